
G
denied
	127.0.0.1šN-!
loopback127.0.0.0/8šN

echo
G
shadowed
	127.0.0.1›N+
loopback127.0.0.0/8

echo
echo
	127.0.0.1‘N