"""fuzz/tls_session.py, tls_version_outside_bounds: a TLS connection negotiates, as its peer's own
TLS stack reports, a version within its context's tls_params (Envoy's TlsParameters). A listener and
a cluster capped at TLS 1.2 meet peers offering 1.3: the clean tree speaks 1.2 on both sides; a
proxy planted to drop the cap (TLS 1.3 negotiated) is caught downstream and upstream."""

import ssl

import pytest
import yaml

from fuzz import test_pki
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from fuzz.session import Session
from fuzz.tls_session import client_mode

GET = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"


def _tls(capped: bool, server_certificate: bool) -> dict:
    pki = test_pki.ensure()
    common: dict = {}
    if server_certificate:
        common["tls_certificates"] = [
            {
                "certificate_chain": {"filename": str(pki / "server.pem")},
                "private_key": {"filename": str(pki / "server.key")},
            }
        ]
    if capped:
        common["tls_params"] = {"tls_maximum_protocol_version": "TLSv1_2"}
    return {"common_tls_context": common}


def _built(downstream_capped: bool, upstream_capped: bool):
    from proxy.build import build
    from proxy.config import load_bytes

    route = {"match": {"prefix": "/"}, "route": {"cluster": "up"}}
    hcm = {
        "stat_prefix": "v",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
    }
    listener = {
        "name": "tls_front",
        "address": {"host": "127.0.0.1", "port": 10443},
        "filter_chains": [
            {"tls_context": _tls(downstream_capped, True), "filters": [{"http_connection_manager": hcm}]}
        ],
    }
    cluster = {
        "name": "up",
        "endpoints": [{"host": "127.0.0.1", "port": 9080}],
        "tls_context": _tls(upstream_capped, False),
    }
    return build(load_bytes(yaml.safe_dump({"listeners": [listener], "clusters": [cluster]}).encode(), "yaml"))


# A TLS client (no certificate, no ALPN, no SNI), a request, its upstream connected.
SCRIPT = [
    A("connect_tls", payload=bytes([client_mode(0, 0, False)])),
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("read"),
]


def _versions(s: Session) -> tuple:
    return s.downstream[0].obj.version(), s.network.opened[0].io.obj.version()


def test_the_clean_tree_keeps_both_caps():
    assert _versions(Session(_built(True, True)).run(SCRIPT)) == ("TLSv1.2", "TLSv1.2")
    assert _versions(Session(_built(False, False)).run(SCRIPT)) == ("TLSv1.3", "TLSv1.3")


def plant_cap_ignored(monkeypatch) -> None:
    """tls_maximum_protocol_version not applied: every context may speak TLS 1.3."""
    from proxy.tls import context

    original = context._common

    def cap_ignored(ctx, common):
        out = original(ctx, common)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        return out

    monkeypatch.setattr(context, "_common", cap_ignored)


@pytest.mark.parametrize(("downstream", "upstream", "where"), [(True, False, "downstream"), (False, True, "upstream")])
def test_a_cap_not_applied_is_caught(monkeypatch, downstream, upstream, where):
    plant_cap_ignored(monkeypatch)
    built = _built(downstream, upstream)
    with pytest.raises(InvariantViolation) as caught:
        Session(built).run(SCRIPT)
    assert caught.value.name == "tls_version_outside_bounds", str(caught.value)
    assert caught.value.detail.startswith(where) and "TLSv1.3" in caught.value.detail
