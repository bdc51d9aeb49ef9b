
Â
http_features
	127.0.0.1¸Nœ™*–featuresî
ë
local127.0.0.1:10040localhost:**.example.com*

/healthzÈok


/ab

service1 2

/ab

service23

^/v[0-9]+/.*$

service1Z

service2
&

/"
x-canary 
service2ˆ'"

/

service1"


no_deletesDELETE"	d
è"÷
"K"I

x-proxied-by	proxyfuzz
x-internal
x-served-by	proxyfuzz"server(°ê0à§8 Bd€€@€€ €€J €€(
service1
	127.0.0.1ëN è:	€€€
service2
	localhostìN0@

	127.0.0.1óN