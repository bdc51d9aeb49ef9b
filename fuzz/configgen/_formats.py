"""String formats: the well-known ones of protoc-gen-validate (ip, ipv4, ipv6, hostname, address,
uuid), two the schema's rules cannot state but proxy/config/semantic.py checks (cidr, regex), and
null_device (a file path that is harmless to write to), test_ca (a CA file of the test PKI,
fuzz/test_pki.py: the one that signed its certificates first, then one that did not).

    strategy("cidr", max_len) -> SearchStrategy[str]

Each format draws a loopback value first (from an all-zero buffer): loopback is what data-plane
sessions connect from and to, so RBAC policies and endpoints built from it are actually exercised.

HTTP-shaped formats (domain, route_path, header_name, header_value) and the percentages draw most
of their values from what a session's requests carry (fuzz/payloads.py, and the hosts, paths and
fields fuzz.models.routing.request_targets derives from a route), the rest at random: a generated
route table is then reachable by the sessions run on it, so they get past the router to an
upstream, and the matchers' other outcomes (no match, case, lengths) are still drawn. Formats
apply to numbers too (a percentage, a port): their values are checked against the field's rules.
"""

import re

from hypothesis import strategies as st

from fuzz.configgen._draw import checked, weighted

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


def _ip(version):
    loopback = "127.0.0.1" if version == 4 else "::1"
    return st.one_of(st.just(loopback), st.ip_addresses(v=version).map(str))


def _hostname():
    return st.one_of(st.just("localhost"), st.lists(_LABEL, min_size=1, max_size=3).map(".".join))


def _named(host: str) -> str:
    """A host name of digits and dots only is read as an IPv4 address (proxy/config/semantic.py
    refuses one that is not): give it a letter, keeping the draw."""
    return "h" + host if host.replace(".", "").isdigit() else host


# The addresses session clients connect from (fuzz.session.SOURCES; a test keeps them equal).
SESSION_SOURCES = ("127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "172.16.5.4")


def _mostly(common, rare, weight: int = 3):
    """`common` (a list) weight times as often as `rare` (a strategy); an all-zero buffer draws
    common[0]."""
    return weighted([(st.sampled_from(common), weight), (rare, 1)])


def _around_source():
    """A session source with any prefix length: the range holds that source and, the shorter it
    is, its neighbours (prefix lengths are what RBAC and chain matching get wrong)."""
    return st.tuples(st.sampled_from(SESSION_SOURCES), st.integers(0, 128)).map(
        lambda t: f"{t[0]}/{t[1] % (129 if ':' in t[0] else 33)}"
    )


def _cidr():
    common = ["127.0.0.0/8", "127.0.0.1/32", "::1/128", "0.0.0.0/0", "10.0.0.0/8", "::/0", "192.168.0.0/16"]
    return st.one_of(
        st.sampled_from(common),
        _around_source(),
        st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
        st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    )


# What session requests carry: fuzz/payloads.py's fixed hosts and paths, the header fields its
# templates send (x-tenant) and pseudo-headers a route may match (:method, :path, :authority).
_DOMAINS = [
    "*",
    "example.com",
    "*.example.com",
    "api.example.com",
    "localhost",
    "www.example.org",
    "api.*",
    "example.com:10000",
]
_ROUTE_PATHS = ["/", "/api", "/api/v1/items", "/static/", "/service1", "/service2", "/admin", "/a/b"]
_HEADER_NAMES = ["x-canary", "x-tenant", "x-version", "x-user", ":method", ":path", ":authority", "content-type"]
_HEADER_VALUES = ["1", "gold", "beta", "v2", "GET", "/api", "example.com", "text/plain"]
# (no "_": a request field with one is refused by default, headers_with_underscores_action)
_TOKEN = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,7}", fullmatch=True)


def _domain():
    wildcard = st.sampled_from(["", "*.", "*"])
    return _mostly(_DOMAINS, st.tuples(wildcard, _hostname()).map("".join))


def _server_name():
    # Names the test PKI's server certificate holds first (a TLS client checks them), any other after.
    return _mostly(
        ["example.com", "*.example.com", "api.example.com", "localhost"],
        st.tuples(st.sampled_from(["", "*."]), _hostname()).map("".join),
    )


def _route_path():
    return _mostly(_ROUTE_PATHS, st.from_regex(r"/[a-z0-9/_.~-]{0,10}", fullmatch=True))


def _header_name():
    return _mostly(_HEADER_NAMES, _TOKEN.map(lambda t: "x-" + t))


# Fields configurations strip (internal and debug fields, cookies, server banners) among those
# session requests, the http_filter harness's requests and the upstreams' responses carry, some
# of them repeated in one message.
_STRIPPED_FIELDS = ["x-canary", "x-tenant", "cookie", "x-internal", "x-debug", "server", "content-type", "set-cookie"]


def _stripped_field():
    return _mostly(_STRIPPED_FIELDS, _TOKEN.map(lambda t: "x-" + t))


def _header_value():
    return _mostly(_HEADER_VALUES, _TOKEN)


# Path regexes (RE2, matched in full against request paths, as proxy/safe_regex.py compiles them): a
# literal head, at most ONE quantified piece, an optional literal tail: programs well under RE2's
# size limit of 100.
_QUANTIFIED = ["[a-z]+", "[0-9]+", "[^/]*", ".*", "[a-z0-9]{1,4}", "(a|b)+"]
_LITERAL = st.from_regex(r"[a-z0-9/_-]{0,6}", fullmatch=True).map(re.escape)


def _regex():
    return st.tuples(_LITERAL, st.one_of(st.just(""), st.sampled_from(_QUANTIFIED)), _LITERAL).map(
        lambda t: "/" + "".join(t)
    )


def _uuid():
    return st.uuids().map(str)


_FORMATS = {
    "ip": lambda: st.one_of(_ip(4), _ip(6)),
    "ipv4": lambda: _ip(4),
    "ipv6": lambda: _ip(6),
    "hostname": _hostname,
    "address": lambda: st.one_of(_ip(4), _hostname().map(_named), _ip(6)),
    "uuid": _uuid,
    "cidr": _cidr,
    "regex": _regex,
    "null_device": lambda: st.just("/dev/null"),
    "domain": _domain,
    "server_name": _server_name,
    "route_path": _route_path,
    "header_name": _header_name,
    "header_value": _header_value,
    "stripped_field": _stripped_field,
    # A route's share of the requests it matches: all (the default), an A/B split, rarely none.
    "route_percent": lambda: st.sampled_from([100, 50, 90, 10, 1, 0]),
    # Requests a fault filter aborts: none most often, so the requests behind it reach the router.
    "abort_percent": lambda: st.sampled_from([0, 50, 10, 100]),
    # Bytes a second a network fault lets through: off, or slow enough to matter in a session.
    "throttle": lambda: st.sampled_from([0, 65536, 4096, 16, 1]),
    # Ports sessions connect from (40000 + n) and to (the listeners' ports, 10000 up), or any.
    "source_port": lambda: _mostly([40000, 40001, 40002], st.integers(1, 65535), weight=1),
    "destination_port": lambda: _mostly([10000, 10001, 10002], st.integers(1, 65535), weight=1),
    # Timeouts: off (0, where that disables it) or values a session's time steps cross (fuzz.session
    # TIME_STEPS_MS), mostly; a short random one otherwise (a 3 ms idle timeout ends every session).
    # Within the generator's cap for *_ms fields (fuzz/configgen/_bounds.py).
    "timeout_ms": lambda: _mostly([0, 1000, 2000, 250, 50], st.integers(1, 2000)),
    # Connect timeouts: shorter than the request and route timeouts above, mostly (Envoy's defaults:
    # 5 s against 15 s), so a connect that times out ends in a retry or a 503 the client sees, not
    # in the request's own timeout first.
    "connect_timeout_ms": lambda: _mostly([10, 100, 1, 1000], st.integers(1, 2000)),
    # Fault delays: none, or one a session's time steps cross.
    "delay_ms": lambda: _mostly([0, 10, 100, 1000], st.integers(1, 2000)),
    # A switch that, off, closes every connection a session opens without a PROXY header: on most.
    "mostly_true": lambda: st.sampled_from([True, True, True, False]),
    "test_ca": lambda: st.sampled_from(_test_cas()),
    # Values a session's clients can present (fuzz/tls_session.py, the test PKI's names): a match
    # on anything else is a chain, a SAN check or a principal nobody reaches.
    "transport_protocol": lambda: st.sampled_from(["tls", "raw_buffer", ""]),
    "alpn": lambda: st.sampled_from(["h2", "http/1.1", "h2c", "http/1.0"]),
    "test_san": lambda: st.sampled_from(
        ["*.example.com", "localhost", "spiffe://proxyfuzz.test/client", "client.proxyfuzz.test", "nobody.test"]
    ),
    "principal_exact": lambda: _principal(
        [
            "spiffe://proxyfuzz.test/client",
            "client.proxyfuzz.test",
            "O=proxyfuzz,CN=client",
            "spiffe://proxyfuzz.test/other",
        ]
    ),
    "principal_prefix": lambda: _principal(["spiffe://", "spiffe://proxyfuzz.test/", "client.", "O=proxyfuzz"]),
    "principal_suffix": lambda: _principal(["/client", ".test", "CN=client", "/other"]),
    "principal_contains": lambda: _principal(["proxyfuzz", "client", "other"]),
}


def _principal(names: list):
    """One of `names` (what the test PKI's client certificate holds, or a neighbour of it), or one
    in other letter case: a matcher with ignore_case must match it, one without must not (SANs are
    compared as configured, Envoy's StringMatcher)."""
    return _mostly(names, st.sampled_from([n.swapcase() for n in names] + [n.upper() for n in names]))


def _test_cas():
    from fuzz.test_pki import ca_paths

    return ca_paths()


FORMATS = frozenset(_FORMATS)


def strategy(name: str, max_len: int | None = None):
    """The values of format `name`; strings at most `max_len` characters (None: numbers)."""
    if name not in _FORMATS:
        raise ValueError(f"unknown format {name!r} (known: {', '.join(sorted(_FORMATS))})")
    if max_len is None:
        return _FORMATS[name]()
    return checked(_FORMATS[name](), lambda v: len(v) <= max_len, f"format {name}")
