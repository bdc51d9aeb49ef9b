"""Built-in listener filters; importing this package registers them (proxy/network/listener_filter.py)."""

from . import http_inspector, proxy_protocol, tls_inspector  # noqa: F401
