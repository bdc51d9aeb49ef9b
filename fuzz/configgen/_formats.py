"""String formats: the well-known ones of protoc-gen-validate (ip, ipv4, ipv6, hostname, address,
uuid), two the schema's rules cannot state but proxy/config/semantic.py checks (cidr, regex), and
null_device (a file path that is harmless to write to), test_ca (a CA file of the test PKI,
fuzz/test_pki.py: the one that signed its certificates first, then one that did not).

    strategy("cidr", max_len) -> SearchStrategy[str]

Each format draws a loopback value first (from an all-zero buffer): loopback is what data-plane
sessions connect from and to, so RBAC policies and endpoints built from it are actually exercised.
"""

import re

from hypothesis import strategies as st

from fuzz.configgen._draw import checked

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


def _ip(version):
    loopback = "127.0.0.1" if version == 4 else "::1"
    return st.one_of(st.just(loopback), st.ip_addresses(v=version).map(str))


def _hostname():
    return st.one_of(st.just("localhost"), st.lists(_LABEL, min_size=1, max_size=3).map(".".join))


def _cidr():
    common = ["127.0.0.0/8", "127.0.0.1/32", "::1/128", "0.0.0.0/0", "10.0.0.0/8", "::/0"]
    return st.one_of(
        st.sampled_from(common),
        st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
        st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    )


# Path regexes matched with `re.fullmatch` against request paths: a literal head, at most ONE
# quantified piece (two could backtrack polynomially on a long path), an optional literal tail.
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
    "address": lambda: st.one_of(_ip(4), _hostname(), _ip(6)),
    "uuid": _uuid,
    "cidr": _cidr,
    "regex": _regex,
    "null_device": lambda: st.just("/dev/null"),
    "test_ca": lambda: st.sampled_from(_test_cas()),
    # Values a session's clients can present (fuzz/tls_session.py, the test PKI's names): a match
    # on anything else is a chain, a SAN check or a principal nobody reaches.
    "transport_protocol": lambda: st.sampled_from(["tls", "raw_buffer", ""]),
    "alpn": lambda: st.sampled_from(["h2", "http/1.1", "h2c", "http/1.0"]),
    "test_san": lambda: st.sampled_from(
        ["*.example.com", "localhost", "spiffe://proxyfuzz.test/client", "client.proxyfuzz.test", "nobody.test"]
    ),
    "principal_exact": lambda: st.sampled_from(
        [
            "spiffe://proxyfuzz.test/client",
            "client.proxyfuzz.test",
            "O=proxyfuzz,CN=client",
            "spiffe://proxyfuzz.test/other",
        ]
    ),
    "principal_prefix": lambda: st.sampled_from(["spiffe://", "spiffe://proxyfuzz.test/", "client.", "O=proxyfuzz"]),
    "principal_suffix": lambda: st.sampled_from(["/client", ".test", "CN=client", "/other"]),
    "principal_contains": lambda: st.sampled_from(["proxyfuzz", "client", "other"]),
}


def _test_cas():
    from fuzz.test_pki import ca_paths

    return ca_paths()


FORMATS = frozenset(_FORMATS)


def strategy(name: str, max_len: int):
    if name not in _FORMATS:
        raise ValueError(f"unknown string format {name!r} (known: {', '.join(sorted(_FORMATS))})")
    return checked(_FORMATS[name](), lambda v: len(v) <= max_len, f"format {name}")
