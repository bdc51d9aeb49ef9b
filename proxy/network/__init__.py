"""The L4 layer: connections, network filters and their iteration rules, listeners.

The contracts a filter author reads are stated once, in filter.py (network filters),
listener_filter.py (listener filters) and transport_socket.py (transport sockets); a filter
registers itself with `register_network_filter` / `register_listener_filter`, and
proxy/extensions.py imports the built-in ones. sim.py is the in-memory network of tests and fuzzers.
"""

from proxy._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Connection": "connection",
        "ConnectionEvent": "connection",
        "CloseType": "connection",
        "State": "connection",
        "FilterStatus": "filter",
        "CONTINUE": "filter",
        "STOP_ITERATION": "filter",
        "ReadFilter": "filter",
        "WriteFilter": "filter",
        "ReadFilterCallbacks": "filter",
        "WriteFilterCallbacks": "filter",
        "ConnectionCallbacks": "filter",
        "register_network_filter": "registry",
        "registered_network_filters": "registry",
        "ListenerFilter": "listener_filter",
        "ListenerFilterCallbacks": "listener_filter",
        "register_listener_filter": "listener_filter",
        "registered_listener_filters": "listener_filter",
        "TransportSocket": "transport_socket",
        "SimNetwork": "sim",
        "SimSocket": "sim",
    },
)
