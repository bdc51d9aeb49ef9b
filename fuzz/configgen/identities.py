"""TLS identity configurations: the session pool's entries where the test PKI's clients and
upstreams meet TLS contexts that judge who they are.

    python -m fuzz gen-configs N --out corpus/session_configs/identities --seed S --identities

The schema-drawn pool draws names from the session formats, so its mTLS chains list names no
certificate of the test PKI carries (or chain matches a loopback client never meets), and a TLS
client presenting a certificate is judged by an RBAC principal or a SAN list only by chance (none
of the 82 entries before this family listed the client certificate's CN). An entry of this family
is one listener with one TLS chain and no chain match, whose HTTP connection manager forwards every
request, to one or two clusters, and draws what Envoy users set on identities:
- the chain: a client certificate asked for or not, required or not, trusted CA the test CA or
  another, match_subject_alt_names drawn from the PKI's client names (their subject CNs among them,
  which a SAN list must never match);
- RBAC principals (network and HTTP filters, ALLOW and DENY): principal_name exact, prefix, suffix
  or contains, cut from one of those names, sometimes in other case with ignore_case;
- clusters: clear text or TLS, SNI and match_subject_alt_names drawn from the server certificate's
  names (a name one label under its wildcard, which matches, and two labels under, which must not),
  trusted CA the test CA or another;
- tls_params: listeners and clusters capped at TLS 1.2 (or held at 1.3) against peers offering 1.3.
The names are read from the test PKI's certificates (fuzz/test_pki.py), never listed here, and
written with the PKI's committed directory (test_pki.DEFAULT_DIR) as every pool entry is.
Deterministic for (seed, index); every entry is validated and built before it is written.
"""

import functools
import random

import yaml

from fuzz import test_pki

CLIENT_LEAVES = ("client", "cn-client", "other-client")  # the leaves session clients present
SERVER_LEAF = "server"  # what the session's upstream peers present (fuzz/tls_peer.server_context)
TLS_CAPS = ((None, 6), ("TLSv1_2", 3), ("TLSv1_3", 1))  # tls_maximum_protocol_version
MATCHERS = ("exact", "prefix", "suffix", "contains")


def _pick(rng: random.Random, table):
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


@functools.lru_cache(maxsize=None)
def leaf_names(leaf: str) -> tuple:
    """A test PKI certificate's names: its URI and DNS SANs, then its subject CN (read with
    `cryptography`), in that order, without repeats."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate((test_pki.ensure() / f"{leaf}.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = sans.get_values_for_type(x509.UniformResourceIdentifier) + sans.get_values_for_type(x509.DNSName)
    names += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return tuple(dict.fromkeys(names))


def client_names() -> tuple:
    return tuple(dict.fromkeys(n for leaf in CLIENT_LEAVES for n in leaf_names(leaf)))


def server_pins() -> tuple:
    """Names a cluster may pin for the server certificate: its names, each wildcard's one-label
    child (a match) and two-label grandchild (RFC 6125 6.4.3: never a match), then names of the
    clients' certificates (foreign to the server)."""
    pins: list = []
    for name in leaf_names(SERVER_LEAF):
        pins += [f"api.{name[2:]}", f"deep.api.{name[2:]}"] if name.startswith("*.") else [name]
    return tuple(dict.fromkeys(pins + list(client_names())))


def _pki(name: str) -> dict:
    return {"filename": f"{test_pki.DEFAULT_DIR}/{name}"}


def _san_list(rng: random.Random, names: tuple) -> list:
    listed = rng.sample(names, rng.choice((1, 1, 2, 3)))
    return [n.upper() if rng.random() < 0.1 and ":" not in n else n for n in listed]


def _validation(rng: random.Random, names: tuple) -> dict:
    context: dict = {"trusted_ca": _pki("ca.pem" if rng.random() < 0.85 else "other-ca.pem")}
    if rng.random() < 0.6:
        context["match_subject_alt_names"] = _san_list(rng, names)
    return context


def _tls_params(rng: random.Random) -> dict | None:
    cap = _pick(rng, TLS_CAPS)
    params: dict = {}
    if cap:
        params["tls_maximum_protocol_version"] = cap
    if rng.random() < 0.2:
        params["tls_minimum_protocol_version"] = "TLSv1_2" if cap == "TLSv1_2" or rng.random() < 0.5 else "TLSv1_3"
    return params or None


def string_matcher(rng: random.Random, name: str) -> dict:
    """Envoy's StringMatcher for `name`: exact, or a prefix, suffix or substring cut from it; in
    other case with ignore_case sometimes."""
    kind = rng.choice(MATCHERS)
    if kind == "exact":
        value = name
    else:
        cut = rng.randrange(1, len(name) + 1)
        start = rng.randrange(len(name) - cut + 1)
        value = name[:cut] if kind == "prefix" else name[-cut:] if kind == "suffix" else name[start : start + cut]
    matcher: dict = {kind: value}
    if rng.random() < 0.25:
        matcher = {kind: value.swapcase(), "ignore_case": True}
    return matcher


def _policies(rng: random.Random, names: tuple) -> list:
    policies = []
    for i in range(rng.choice((1, 1, 2))):
        principals = []
        for _ in range(rng.choice((1, 1, 2))):
            auth: dict = {}
            if rng.random() < 0.9:  # else: any authenticated client
                auth["principal_name"] = string_matcher(rng, rng.choice(names))
            principals.append({"authenticated": auth})
        policies.append({"name": f"who{i}", "principals": principals})
    return policies


def _rbac(rng: random.Random, names: tuple) -> dict:
    rbac: dict = {"action": rng.choice(("ALLOW", "DENY")), "policies": _policies(rng, names)}
    if rng.random() < 0.1:
        rbac["shadow"] = True
    return rbac


def _downstream_tls(rng: random.Random) -> dict:
    common: dict = {
        "tls_certificates": [{"certificate_chain": _pki("server.pem"), "private_key": _pki("server.key")}],
    }
    alpn = rng.choice((["h2", "http/1.1"], ["h2", "http/1.1"], ["http/1.1"], None))
    if alpn:
        common["alpn_protocols"] = alpn
    tls: dict = {"common_tls_context": common}
    if rng.random() < 0.85:
        common["validation_context"] = _validation(rng, client_names())
        tls["require_client_certificate"] = rng.random() < 0.5
    params = _tls_params(rng)
    if params:
        common["tls_params"] = params
    return tls


def _cluster(rng: random.Random, name: str, port: int) -> dict:
    cluster: dict = {
        "name": name,
        "endpoints": [{"host": "127.0.0.1", "port": port}],
        "protocol": rng.choice(("HTTP1", "HTTP1", "HTTP2")),
        "connect_timeout_ms": 1000,
    }
    if rng.random() < 0.7:
        common: dict = {}
        if rng.random() < 0.8:
            common["validation_context"] = _validation(rng, server_pins())
        params = _tls_params(rng)
        if params:
            common["tls_params"] = params
        if rng.random() < 0.2:
            common["tls_certificates"] = [{"certificate_chain": _pki("client.pem"), "private_key": _pki("client.key")}]
        tls: dict = {"common_tls_context": common}
        plain = [n for n in leaf_names(SERVER_LEAF) if not n.startswith("*.")]
        if rng.random() < 0.6:
            tls["sni"] = rng.choice(plain)
        cluster["tls_context"] = tls
    return cluster


def identity_tree(seed: int, index: int) -> dict:
    """The configuration (as YAML's tree) of entry `index` drawn with `seed`."""
    rng = random.Random(f"identities-{seed}-{index}")
    names = ["up0", "up1"][: rng.choice((1, 2))]
    routes = []
    if len(names) > 1:
        routes.append({"match": {"prefix": rng.choice(("/api", "/static/", "/admin"))}, "route": {"cluster": "up1"}})
    routes.append({"match": {"prefix": "/"}, "route": {"cluster": "up0"}})
    hcm: dict = {
        "codec": "AUTO",
        "stat_prefix": "ids",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
    }
    if rng.random() < 0.6:
        hcm["http_filters"] = [{"rbac": _rbac(rng, client_names())}]
    filters: list = [{"http_connection_manager": hcm}]
    if rng.random() < 0.3:
        filters.insert(0, {"rbac": {**_rbac(rng, client_names()), "stat_prefix": "ids"}})
    listener = {
        "name": "tls_front",
        "address": {"host": "127.0.0.1", "port": 10443},
        "filter_chains": [{"tls_context": _downstream_tls(rng), "filters": filters}],
    }
    return {"listeners": [listener], "clusters": [_cluster(rng, n, 9080 + 10 * i) for i, n in enumerate(names)]}


def identity_config(seed: int, index: int):
    """Entry `index` of seed `seed` as a validated Bootstrap (the PKI read where it is today)."""
    from proxy.config import load_bytes

    text = yaml.safe_dump(identity_tree(seed, index)).encode()
    test_pki.ensure()  # validation reads the files
    return load_bytes(test_pki.read_as_moved(text), "yaml")


def pool(n: int, seed: int) -> list:
    """n identity Bootstraps, deterministic for (n, seed), each built."""
    from proxy.build import build

    configs = [identity_config(seed, i) for i in range(n)]
    for config in configs:
        build(config)
    return configs
