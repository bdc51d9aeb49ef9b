"""The built-in extensions: importing this module registers every built-in network filter (the
HTTP connection manager among them), listener filter and HTTP filter.

Like Envoy's statically linked extensions, the registries (proxy/network/registry.py,
proxy/network/listener_filter.py, proxy/http/registry.py) know no filter; each filter module
registers itself when imported, and this module imports them all. The builder
(proxy/build.py) imports it, as does anything that lists the filters without building (the
fuzz harnesses' filter lists): the dependency runs one way, extensions -> filters -> registries.
"""

from proxy.http import conn_manager, filters as http_filters
from proxy.http.registry import http_filter_factory, registered_http_filters
from proxy.network import filters as network_filters, listener_filters
from proxy.network.listener_filter import listener_filter_factory, registered_listener_filters
from proxy.network.registry import network_filter_factory, registered_network_filters

BUILT_IN = (conn_manager, http_filters, network_filters, listener_filters)

__all__ = [
    "http_filter_factory",
    "listener_filter_factory",
    "network_filter_factory",
    "registered_http_filters",
    "registered_listener_filters",
    "registered_network_filters",
]
