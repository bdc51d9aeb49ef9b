"""fuzz/tls_session.py, tls_upstream_identity_not_checked: an upstream TLS connection whose cluster's
validation_context the upstream's certificate cannot satisfy is never Connected. Shown with
examples/upstream_tls.yaml (cluster payments, /api, pins the SAN payments.internal, which the test server
certificate lacks) on the real proxy and on a planted bug (the SAN check applied downstream only)."""

import pytest

from fuzz import test_pki
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from fuzz.session import ConfigPool, Session

GET = b"GET /api/v1/pay HTTP/1.1\r\nHost: h\r\n\r\n"
SCRIPT = [A("connect"), A("send", payload=GET), A("upstream_connect"), A("read")]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    # The example names the default PKI directory; the fuzzing peers use PROXYFUZZ_PKI's.
    text = open("examples/upstream_tls.yaml").read().replace(test_pki.DEFAULT_DIR, str(test_pki.ensure()))
    path = tmp_path_factory.mktemp("example") / "upstream_tls.yaml"
    path.write_text(text)
    return ConfigPool([str(path)]).built[0]


def test_an_upstream_without_the_pinned_san_is_refused(example):
    s = Session(example).run(SCRIPT)
    assert s.ctx.stats.counters["cluster.payments.ssl.fail_verify_san"] == 1
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 503")


def test_an_upstream_san_check_skipped_is_found(example, monkeypatch):
    from dataclasses import replace

    from proxy.tls import transport

    original = transport.TlsTransportSocket.__init__

    def upstream_unpinned(self, config, server_side, stats, stat_prefix):  # the planted bug
        if not server_side:
            config = replace(config, match_sans=frozenset())
        original(self, config, server_side, stats, stat_prefix)

    monkeypatch.setattr(transport.TlsTransportSocket, "__init__", upstream_unpinned)
    with pytest.raises(InvariantViolation) as caught:
        Session(example).run(SCRIPT)
    assert caught.value.name == "tls_upstream_identity_not_checked", str(caught.value)
    assert "payments.internal" in caught.value.detail


def test_the_identity_model_reads_the_certificate_and_the_trusted_ca():
    from fuzz import tls_session
    from proxy.config import schema

    common = schema.message_class(schema.BOOTSTRAP_DESCRIPTOR.file.message_types_by_name["CommonTlsContext"])()
    assert tls_session._why_refused(common) == ""  # nothing verified
    ca, other_ca = test_pki.ca_paths()
    common.validation_context.trusted_ca.filename = ca
    common.validation_context.match_subject_alt_names.append("api.example.com")  # under *.example.com
    assert tls_session._why_refused(common) == ""
    common.validation_context.trusted_ca.filename = other_ca
    assert "trusted_ca" in tls_session._why_refused(common)


@pytest.fixture(scope="module")
def wildcard_pin(tmp_path_factory):
    # The same example with payments pinned to API.example.com: one label under the upstream
    # certificate's *.example.com, in another case, which Envoy's dnsNameMatch accepts.
    text = open("examples/upstream_tls.yaml").read().replace(test_pki.DEFAULT_DIR, str(test_pki.ensure()))
    text = text.replace("match_subject_alt_names: [payments.internal]", "match_subject_alt_names: [API.example.com]")
    path = tmp_path_factory.mktemp("wildcard") / "upstream_tls.yaml"
    path.write_text(text)
    return ConfigPool([str(path)]).built[0]


def test_a_pinned_name_under_the_certificate_wildcard_connects(wildcard_pin):
    s = Session(wildcard_pin).run(SCRIPT)
    assert s.ctx.stats.counters.get("cluster.payments.ssl.fail_verify_san", 0) == 0
    assert s.ctx.stats.counters["cluster.payments.ssl.handshake"] == 1


def test_a_wildcard_certificate_refused_for_a_name_under_it_is_found(wildcard_pin, monkeypatch):
    from proxy.tls import transport

    def exact_only(names, peer):  # the planted bug: the SAN compared as a plain string
        return peer is not None and bool(set(names) & {*peer.uri_sans, *peer.dns_sans})

    monkeypatch.setattr(transport, "peer_matches", exact_only)
    with pytest.raises(InvariantViolation) as caught:
        Session(wildcard_pin).run(SCRIPT)
    assert caught.value.name == "tls_upstream_identity_wrongly_refused", str(caught.value)


STATIC = [A("connect"), A("send", payload=b"GET /static/app.js HTTP/1.1\r\nHost: h\r\n\r\n"), A("upstream_connect")]
STATIC += [A("read")]


def test_an_upstream_from_an_untrusted_ca_is_refused(example):
    """Cluster assets (/static) trusts only the other CA, which did not issue the upstream's certificate."""
    s = Session(example).run(STATIC)
    assert s.ctx.stats.counters["cluster.assets.ssl.fail_verify_error"] == 1
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 503")


def test_an_upstream_chain_never_verified_is_found(tmp_path, monkeypatch):
    """Planted: the upstream context loads trusted_ca but keeps verify_mode CERT_NONE (CWE-295)."""
    import ssl

    from proxy import build
    from proxy.tls import context

    original = context.client_config

    def unverified(msg, default_alpn=()):
        config = original(msg, default_alpn)
        config.context.verify_mode = ssl.CERT_NONE
        return config

    monkeypatch.setattr(build, "client_config", unverified)
    text = open("examples/upstream_tls.yaml").read().replace(test_pki.DEFAULT_DIR, str(test_pki.ensure()))
    path = tmp_path / "upstream_tls.yaml"
    path.write_text(text)
    with pytest.raises(InvariantViolation) as caught:
        Session(ConfigPool([str(path)]).built[0]).run(STATIC)
    assert caught.value.name == "tls_upstream_identity_not_checked", str(caught.value)
