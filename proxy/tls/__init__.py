"""TLS for the proxy, sans-IO: contexts built from the configuration (context.py), the transport
socket that runs the standard library's ssl.SSLObject over memory BIOs between a connection's wire
and its buffers (transport.py), and what a handshake established (info.py)."""
