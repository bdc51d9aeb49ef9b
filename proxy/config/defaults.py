"""Values of unset `optional` fields, in one place.

    from proxy.config import defaults
    limit = defaults.get(listener, "per_connection_buffer_limit_bytes")   # 1048576 when unset

Every proto3 `optional` scalar of the schema must have an entry here (a test checks it).
"""

DEFAULTS = {
    "proxyfuzz.config.Listener.per_connection_buffer_limit_bytes": 1024 * 1024,
    "proxyfuzz.config.Listener.listener_filters_timeout_ms": 15000,  # Envoy's listener_filters_timeout
    "proxyfuzz.config.FilterChainMatch.destination_port": None,  # any port
    "proxyfuzz.config.HttpConnectionManager.max_request_headers_kb": 60,
    "proxyfuzz.config.HttpConnectionManager.stream_idle_timeout_ms": 300000,  # Envoy's 5 min
    "proxyfuzz.config.HttpProtocolOptions.headers_with_underscores_action": 1,  # REJECT_REQUEST (bootstrap.proto)
    "proxyfuzz.config.Http2ProtocolOptions.max_concurrent_streams": 100,
    "proxyfuzz.config.Http2ProtocolOptions.initial_window_size": 65535,
    "proxyfuzz.config.Http2ProtocolOptions.max_header_list_size": 65536,
    "proxyfuzz.config.Http2ProtocolOptions.max_frame_size": 16384,
    "proxyfuzz.config.Http2ProtocolOptions.max_outbound_frames": 10000,
    "proxyfuzz.config.Http2ProtocolOptions.max_outbound_control_frames": 1000,
    "proxyfuzz.config.Http2ProtocolOptions.max_consecutive_inbound_frames_with_empty_payload": 1,
    "proxyfuzz.config.Route.runtime_fraction_percent": 100,
    "proxyfuzz.config.RouteAction.timeout_ms": 15000,
    "proxyfuzz.config.HttpFault.abort_status": None,  # semantic check: set when abort_percent > 0
    "proxyfuzz.config.Cluster.connect_timeout_ms": 5000,
    "proxyfuzz.config.Cluster.per_connection_buffer_limit_bytes": 1024 * 1024,
    "proxyfuzz.config.Cluster.max_connections": 1024,
    "proxyfuzz.config.CircuitBreakers.max_connections": 1024,
    "proxyfuzz.config.CircuitBreakers.max_pending_requests": 1024,
    "proxyfuzz.config.CircuitBreakers.max_requests": 1024,
}


def get(message, field_name: str):
    """The field's value if set, else its default (for plain fields: the proto3 zero value)."""
    field = message.DESCRIPTOR.fields_by_name[field_name]
    key = field.full_name
    if key in DEFAULTS and not message.HasField(field_name):
        return DEFAULTS[key]
    return getattr(message, field_name)


def cluster_max_connections(cluster) -> int:
    """The effective connection cap: Cluster.max_connections and circuit_breakers.max_connections,
    whichever is smaller."""
    return min(get(cluster, "max_connections"), get(cluster.circuit_breakers, "max_connections"))
