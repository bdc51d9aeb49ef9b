"""An HTTP connection manager's timeouts as its configuration documents them, not as the proxy built
them: the value the configuration sets, else the default bootstrap.proto documents for the field.
A model that read the proxy's own built value (HcmConfig) would share a default the proxy lost.

    timeout_ms(session, sock, hcm, "stream_idle_timeout_ms")   # 300000 when the field is unset
"""

from .session_oracle import bootstrap_of

# bootstrap.proto HttpConnectionManager: stream_idle_timeout_ms "Default 5 min; 0 disables it"
# (Envoy's stream_idle_timeout); idle_timeout_ms and request_timeout_ms are plain proto3 fields,
# unset or 0 disables them (docs/semantics.md "HCM idle timeout", "HCM request timeout").
DOCUMENTED_DEFAULTS = {"stream_idle_timeout_ms": 300_000, "idle_timeout_ms": 0, "request_timeout_ms": 0}
_CHAIN_PREFIX = "filter_chains["


def manager_message(session, sock):
    """The HttpConnectionManager message of the chain the connection on `sock` got, or None."""
    conn, connect = sock.conn, getattr(sock, "fuzz_connect", None)
    name = conn.stream_info.get("filter_chain") if conn is not None else None
    if connect is None or not name:
        return None
    listener = bootstrap_of(session.built).listeners[connect[0]]
    if name == "default_filter_chain":
        chain = listener.default_filter_chain
    elif name.startswith(_CHAIN_PREFIX):
        chain = listener.filter_chains[int(name[len(_CHAIN_PREFIX) : -1])]
    else:
        return None
    managers = [f.http_connection_manager for f in chain.filters if f.WhichOneof("filter") == "http_connection_manager"]
    return managers[0] if managers else None


def timeout_ms(session, sock, hcm, field: str) -> int:
    """`field` of the connection manager serving `sock`, from its configuration and documented default
    (the proxy's built value only where no configuration message is known)."""
    msg = manager_message(session, sock)
    if msg is None:
        return getattr(hcm.config, field)
    try:
        present = msg.HasField(field)
    except ValueError:  # a plain proto3 scalar: no presence, its value is what counts
        present = True
    return getattr(msg, field) if present else DOCUMENTED_DEFAULTS[field]
