"""What the schema's validation rules cannot say, as data: the cross-field facts of bootstrap.proto
that proxy/config/semantic.py and proxy/build.py check. fuzz/configgen/_repair.py applies them
after a draw; those that shape a draw (FIELD_FORMATS, EXCLUDED_VALUES, TERMINAL_LAST,
ONEOF_MEMBERS, MEMBER_WEIGHTS, MIN_ITEMS, MAX_ITEMS, ABSENT_WEIGHTS) are read by fuzz/configgen/_messages.py.

Each entry names fields by their full protobuf name. A new field that is a cluster reference, a
name that must be unique, a CIDR range or a regex needs one line here, not new code.
"""

from proxy.extensions import registered_http_filters, registered_listener_filters, registered_network_filters

P = "proxyfuzz.config."

# Fields with a format the rules do not state (semantic.py parses them, or sessions must reach
# them): field -> format of fuzz/configgen/_formats.py.
FIELD_FORMATS = {
    P + "FilterChainMatch.source_prefix_ranges": "cidr",
    P + "FilterChainMatch.prefix_ranges": "cidr",
    P + "FilterChainMatch.direct_source_prefix_ranges": "cidr",
    # Certificates are test PKI files (TlsCertificate is set whole, see MESSAGE_FIXES); a
    # DataSource elsewhere is a trusted CA: the test CA, or the other one (verification fails).
    P + "DataSource.filename": "test_ca",
    P + "FilterChainMatch.transport_protocol": "transport_protocol",
    P + "FilterChainMatch.server_names": "server_name",
    P + "FilterChainMatch.application_protocols": "alpn",
    P + "CommonTlsContext.alpn_protocols": "alpn",
    P + "CertificateValidationContext.match_subject_alt_names": "test_san",
    P + "StringMatcher.exact": "principal_exact",
    P + "StringMatcher.prefix": "principal_prefix",
    P + "StringMatcher.suffix": "principal_suffix",
    P + "StringMatcher.contains": "principal_contains",
    P + "RbacPolicy.source_prefixes": "cidr",
    P + "HttpRbacPolicy.source_prefixes": "cidr",
    P + "RegexMatcher.regex": "regex",
    # A fuzzed config must not write files all over the disk: access logs go to /dev/null.
    P + "AccessLog.path": "null_device",
    # What session requests carry (fuzz/configgen/_formats.py): generated routes, virtual hosts
    # and matchers that the sessions run on them can reach, mostly.
    P + "VirtualHost.domains": "domain",
    P + "RouteMatch.prefix": "route_path",
    P + "RouteMatch.path": "route_path",
    P + "HttpRbacPolicy.path_prefixes": "route_path",
    P + "HeaderMatcher.name": "header_name",
    P + "HeaderMatcher.exact": "header_value",
    P + "HeaderMatcher.prefix": "header_value",
    P + "HeaderMutation.request_headers_to_remove": "stripped_field",
    P + "HeaderMutation.response_headers_to_remove": "stripped_field",
    P + "Route.runtime_fraction_percent": "route_percent",
    P + "HttpFault.abort_percent": "abort_percent",
    P + "Fault.throttle_bytes_per_sec": "throttle",
    P + "FilterChainMatch.source_ports": "source_port",
    P + "RbacPolicy.destination_ports": "destination_port",
    P + "ProxyProtocol.allow_requests_without_proxy_protocol": "mostly_true",
    **{
        P + name: "timeout_ms"
        for name in (
            "Listener.listener_filters_timeout_ms",
            "TcpProxy.idle_timeout_ms",
            "HttpConnectionManager.request_timeout_ms",
            "HttpConnectionManager.idle_timeout_ms",
            "HttpConnectionManager.stream_idle_timeout_ms",
            "RouteAction.timeout_ms",
        )
    },
    P + "Cluster.connect_timeout_ms": "connect_timeout_ms",
    P + "Fault.delay_ms": "delay_ms",
    P + "HttpFault.delay_ms": "delay_ms",
}


def _codec_owned_headers():
    # The header_mutation filter refuses to add these at build time (the codecs own framing).
    from proxy.http.filters.header_mutation import _RESERVED

    return _RESERVED


# Values a field must not take, beyond its rules' not_in: field -> function giving them (for a map,
# its keys; for a list, its items).
EXCLUDED_VALUES = {
    P + "HeaderMutation.request_headers_to_add": _codec_owned_headers,
    P + "HeaderMutation.response_headers_to_add": _codec_owned_headers,
}

# Where names are defined: the repeated field holding the named messages, and the name field.
NAME_SOURCES = {
    "cluster": (P + "Bootstrap.clusters", "name"),
}

# Fields whose value is a name defined elsewhere: field -> kind of name (a key of NAME_SOURCES).
REFERENCES = {
    P + "TcpProxy.cluster": "cluster",
    P + "RouteAction.cluster": "cluster",
    P + "ClusterWeight.name": "cluster",
}

# Repeated fields whose items must differ in one field: list field -> item field. Names are
# renamed apart; references are given different targets (items beyond the targets are dropped).
UNIQUE_IN_LIST = {
    P + "Bootstrap.clusters": "name",
    P + "Bootstrap.listeners": "name",
    P + "RouteConfiguration.virtual_hosts": "name",
    P + "Rbac.policies": "name",
    P + "HttpRbac.policies": "name",
    P + "WeightedClusters.clusters": "name",
}

# A repeated string field whose values must be unique across all items of an enclosing list:
# enclosing list -> (repeated field of its items, comparison key). Later duplicates are renamed.
UNIQUE_ACROSS_ITEMS = {
    P + "RouteConfiguration.virtual_hosts": ("domains", str.lower),
}

# Repeated fields whose items' numeric field must not all be 0: list field -> item field.
NONZERO_SUM = {
    P + "WeightedClusters.clusters": "weight",
}

# Fields that must be set when a sibling's value says so: field -> (sibling, predicate).
REQUIRED_WHEN = {
    P + "HttpFault.abort_status": ("abort_percent", lambda v: v > 0),
}

# Oneof members drawn more often than the others (weight 1): oneof -> {member: weight}. A route
# that forwards is what a session's request must reach to test anything past the router.
MEMBER_WEIGHTS = {
    P + "Route.action": {"route": 3},
    P + "NetworkFilter.filter": {"http_connection_manager": 2},
}

# Optional message fields left unset more often than set (weight against 1): field -> weight, or
# (weight unset, weight set). A TLS chain is reached only by a session's TLS clients, a clear-text
# one by every other client.
ABSENT_WEIGHTS = {
    P + "FilterChain.tls_context": 3,
    # A chain matches a connection only when every criterion it sets does, and a real listener's
    # chains each set one or two (a server name, a source range, a port). Drawn at half each, a
    # chain set four or five and no session connection reached it: its server-name, source-range
    # and port matching went untested. The destination IP (prefix_ranges) is the listener's own
    # address in sessions, so a range there excludes most connections.
    **{
        P + "FilterChainMatch." + name: weight
        for name, weight in (
            ("destination_port", 2),
            ("source_prefix_ranges", 2),
            ("server_names", 2),
            ("prefix_ranges", 7),
            ("direct_source_prefix_ranges", 4),
            ("source_ports", 4),
            ("application_protocols", 3),
        )
    },
    # An RBAC policy matches when all it sets does (Envoy's permissions and principals): the same
    # bias, so a policy's source ranges and principals decide for some connections.
    **{
        P + name: 2
        for name in (
            "RbacPolicy.destination_ports",
            "RbacPolicy.principals",
            "HttpRbacPolicy.methods",
            "HttpRbacPolicy.path_prefixes",
            "HttpRbacPolicy.headers",
            "HttpRbacPolicy.principals",
        )
    },
    # A principal without a name is any client with a certificate: mostly a name the StringMatcher
    # decides on (one in four stays the catch-all).
    P + "Authenticated.principal_name": (1, 3),
}

# Lists drawn with at least this many items (a bias within the rules): list field -> items. A
# virtual host without routes answers every request with a 404.
MIN_ITEMS = {
    P + "VirtualHost.routes": 1,
}

# Lists drawn with at most this many items (a bias within the rules): list field -> items. Every
# header matcher of a route must match, and a request carries one route's fields at most.
MAX_ITEMS = {
    P + "RouteMatch.headers": 1,
    # A policy's principals match when any does: in a longer list one is mostly `authenticated {}`
    # (any client with a certificate), and the names beside it never decide.
    P + "RbacPolicy.principals": 2,
    P + "HttpRbacPolicy.principals": 2,
    # A listener filter or a chain criterion more narrows what a session's connection reaches.
    P + "Listener.listener_filters": 1,
    **{
        P + "FilterChainMatch." + name: 1
        for name in (
            "source_prefix_ranges",
            "server_names",
            "prefix_ranges",
            "direct_source_prefix_ranges",
            "source_ports",
            "application_protocols",
        )
    },
}

# Lists of oneof messages whose LAST item must set one of `members` and no other item may:
# list field -> (oneof name, members).
TERMINAL_LAST = {
    P + "FilterChain.filters": ("filter", ("tcp_proxy", "http_connection_manager")),
}

# Addresses the proxy binds: message -> (host field, port field). All get bounds.listen_host and
# distinct ports from bounds.listen_ports (semantic.py: no two listeners on one port).
BIND_ADDRESSES = {
    P + "SocketAddress": ("host", "port"),
}


def _chains_overlap(a, b) -> bool:
    """Two filter chains some connection matches equally well (build.py refuses them)."""
    from proxy.network.chain_match import clashes, match_of

    return clashes(match_of(a.filter_chain_match), match_of(b.filter_chain_match))


# Lists whose items must not overlap: list field -> (overlap(item, earlier item), field of the
# item's message to set to a fresh port while it overlaps an earlier item).
NON_OVERLAPPING = {
    P + "Listener.filter_chains": (_chains_overlap, ("filter_chain_match", "destination_port")),
}


def _test_certificate(message) -> None:
    from fuzz.test_pki import fill_server_certificate

    fill_server_certificate(message)


def _downstream_tls(message) -> None:
    """proxy/tls/context.py: a downstream context presents one certificate, and requiring a
    client certificate needs a validation_context to verify it."""
    common = message.common_tls_context
    if not common.tls_certificates:
        _test_certificate(common.tls_certificates.add())
    if message.require_client_certificate and not common.HasField("validation_context"):
        message.require_client_certificate = False


def _tls_versions(message) -> None:
    """The minimum version is not above the maximum (TLS_AUTO is 1.2 as minimum, 1.3 as maximum)."""
    low = message.tls_minimum_protocol_version or 3
    high = message.tls_maximum_protocol_version or 4
    if low > high:
        message.tls_minimum_protocol_version, message.tls_maximum_protocol_version = high, low


# Messages whose value no draw makes valid by itself, fixed after the draw: message -> fix(message).
# A certificate needs its own private key: the test PKI's (fuzz/test_pki.py, made at first use).
MESSAGE_FIXES = {
    P + "TlsCertificate": _test_certificate,
    P + "DownstreamTlsContext": _downstream_tls,
    P + "TlsParameters": _tls_versions,
}


# Oneofs whose members may be chosen only in part: oneof -> function giving the member names.
# build.py refuses a filter nobody registered; an access log on stdout would write into the
# fuzzer's own output (where atheris prints tracebacks).
ONEOF_MEMBERS = {
    P + "NetworkFilter.filter": registered_network_filters,
    P + "ListenerFilter.filter": registered_listener_filters,
    P + "DataSource.specifier": lambda: ["filename"],
    P + "HttpFilter.filter": registered_http_filters,
    P + "AccessLog.sink": lambda: ["path"],
}
