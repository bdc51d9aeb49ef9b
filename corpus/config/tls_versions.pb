
p
tls12_in
	127.0.0.1ËQT

upJ
H
B

/tmp/proxyfuzz-pki/server.pem
/tmp/proxyfuzz-pki/server.key
up
	127.0.0.1‘NJ

