"""The built listeners and clusters hold what the configuration says, with the documented default
for what it leaves unset, and an explicit zero kept as zero.

Written from bootstrap.proto's comments (Envoy's defaults), not from proxy/config/defaults.py:
  Listener.per_connection_buffer_limit_bytes   "Default 1 MiB"
  Listener.listener_filters_timeout_ms         "Default 15 s; 0: none" (Envoy: "Specify 0 to disable
                                               the timeout. If not specified, a default timeout of
                                               15s is used")
  Cluster.connect_timeout_ms                   "Default 5 s"
  Cluster.per_connection_buffer_limit_bytes    "Default 1 MiB"
  Cluster.max_connections                      "Default 1024"; circuit_breakers' "Unset fields
                                               default to 1024 ... the smaller one wins"
Each is a proto3 `optional` field: presence, not the value, says whether the user set it (the
mistake this catches reads an explicit 0 as unset, so "no timeout" becomes 15 s).
"""

from fuzz.oracles import InvariantViolation

MIB = 1024 * 1024
BREAKER_DEFAULT = 1024
# (field, attribute of the built object, default when the field is unset)
LISTENER_FIELDS = (
    ("per_connection_buffer_limit_bytes", "buffer_limit", MIB),
    ("listener_filters_timeout_ms", "listener_filters_timeout_ms", 15_000),
)
CLUSTER_FIELDS = (
    ("connect_timeout_ms", "connect_timeout_ms", 5_000),
    ("per_connection_buffer_limit_bytes", "buffer_limit", MIB),
)
BREAKER_FIELDS = (("max_pending_requests", "max_pending_requests"), ("max_requests", "max_requests"))


def _value(msg, field: str, default):
    return getattr(msg, field) if msg.HasField(field) else default


def _compare(what: str, field: str, want, got) -> None:
    if want != got:
        raise InvariantViolation(
            "config_built_value",
            f"{what}.{field}: configured as {want!r} (unset reads as its documented default), built as {got!r}",
            expected=want,
            observed=got,
        )


def check(boot, built) -> None:
    """`built` is build(boot) of an accepted configuration."""
    for i, msg in enumerate(boot.listeners):
        listener = built.listeners[i]
        for field, attribute, default in LISTENER_FIELDS:
            _compare(f"listeners[{i}]", field, _value(msg, field, default), getattr(listener, attribute))
        _compare(
            f"listeners[{i}]",
            "continue_on_listener_filters_timeout",
            msg.continue_on_listener_filters_timeout,
            listener.continue_on_listener_filters_timeout,
        )
    for i, msg in enumerate(boot.clusters):
        cluster = built.clusters[msg.name]
        for field, attribute, default in CLUSTER_FIELDS:
            _compare(f"clusters[{i}]", field, _value(msg, field, default), getattr(cluster, attribute))
        breakers = msg.circuit_breakers
        cap = min(_value(msg, "max_connections", BREAKER_DEFAULT), _value(breakers, "max_connections", BREAKER_DEFAULT))
        _compare(f"clusters[{i}]", "max_connections", cap, cluster.max_connections)
        for field, attribute in BREAKER_FIELDS:
            _compare(
                f"clusters[{i}].circuit_breakers",
                field,
                _value(breakers, field, BREAKER_DEFAULT),
                getattr(cluster, attribute),
            )
