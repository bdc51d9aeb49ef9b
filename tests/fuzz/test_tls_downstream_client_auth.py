"""fuzz/tls_session.py, tls_downstream_client_auth_not_enforced: a downstream TLS connection whose chain
must refuse its client (Envoy's DownstreamTlsContext.require_client_certificate: "Envoy will reject
connections without a valid client certificate"; CertificateValidationContext: a presented certificate
must chain to trusted_ca and carry one of match_subject_alt_names) is never Connected. Shown on the
real proxy and on planted bugs: require_client_certificate ignored, and a presented certificate not
verified."""

import json
import ssl

import pytest

from fuzz import test_pki
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from fuzz.session import ConfigPool, Session

# connect_tls mode: TLS, certificate bits 3-4
NO_CERT, CLIENT, OTHER, CN_ONLY = 0b00000001, 0b00001001, 0b00010001, 0b00011001


def _config(tmp_path, **tls_fields):
    pki = test_pki.ensure()
    tls = {
        "common_tls_context": {
            "tls_certificates": [
                {
                    "certificate_chain": {"filename": str(pki / "server.pem")},
                    "private_key": {"filename": str(pki / "server.key")},
                }
            ],
            "validation_context": {"trusted_ca": {"filename": str(pki / "ca.pem")}, **tls_fields.pop("vc", {})},
        },
        **tls_fields,
    }
    chain = {"tls_context": tls, "filters": [{"tcp_proxy": {"cluster": "echo"}}]}
    config = {
        "listeners": [{"name": "mtls", "address": {"host": "127.0.0.1", "port": 10443}, "filter_chains": [chain]}],
        "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": 9000}]}],
    }
    path = tmp_path / "mtls.yaml"
    path.write_text(json.dumps(config))
    return ConfigPool([str(path)]).built[0]


def _client(mode):
    return [A("connect_tls", payload=bytes([mode])), A("send", payload=b"hello"), A("upstream_connect")]


def _connected(session):
    return [sock.conn.connected for sock in session.downstream]


def test_the_proxy_refuses_what_its_tls_context_refuses(tmp_path):
    required = _config(tmp_path, require_client_certificate=True)
    assert _connected(Session(required).run(_client(NO_CERT) + _client(CLIENT) + _client(OTHER))) == [
        False,
        True,
        False,
    ]
    pinned = _config(tmp_path, vc={"match_subject_alt_names": ["client.proxyfuzz.test"]})
    assert _connected(Session(pinned).run(_client(CLIENT))) == [True]
    elsewhere = _config(tmp_path, vc={"match_subject_alt_names": ["payments.internal"]})
    assert _connected(Session(elsewhere).run(_client(CLIENT))) == [False]
    # cn-client names client.proxyfuzz.test only as its subject CN: Envoy matches SANs, never the CN.
    cn_only = Session(pinned).run(_client(CN_ONLY))
    assert _connected(cn_only) == [False]
    assert cn_only.ctx.stats.counters.get("listener.mtls.ssl.fail_verify_san") == 1


def test_a_san_check_that_falls_back_to_the_subject_cn_is_found(tmp_path, monkeypatch):
    """The planted bug class of tls-san-check-falls-back-to-common-name (bench/bugs): a certificate whose
    SANs match none of match_subject_alt_names passes on its subject's CN (RFC 6125 6.4.4 forbids it)."""
    from proxy.tls import transport

    original = transport.peer_matches

    def cn_fallback(names, peer):
        return original(names, peer) or (peer is not None and any(f"CN={n}" in peer.subject.split(",") for n in names))

    monkeypatch.setattr(transport, "peer_matches", cn_fallback)
    built = _config(
        tmp_path, require_client_certificate=True, vc={"match_subject_alt_names": ["client.proxyfuzz.test"]}
    )
    with pytest.raises(InvariantViolation) as caught:
        Session(built).run(_client(CN_ONLY))
    assert caught.value.name == "tls_downstream_client_auth_not_enforced", str(caught.value)
    assert "match_subject_alt_names" in caught.value.detail


def test_require_client_certificate_ignored_is_found(tmp_path, monkeypatch):
    from proxy import build

    original = build.server_config

    def optional_always(msg):  # the planted bug: the certificate asked for, never required
        built = original(msg)
        built.context.verify_mode = ssl.CERT_OPTIONAL
        return built

    monkeypatch.setattr(build, "server_config", optional_always)
    built = _config(tmp_path, require_client_certificate=True)
    with pytest.raises(InvariantViolation) as caught:
        Session(built).run(_client(NO_CERT))
    assert caught.value.name == "tls_downstream_client_auth_not_enforced", str(caught.value)
    assert "no certificate" in caught.value.detail


def test_a_presented_certificate_not_verified_is_found(tmp_path, monkeypatch):
    from proxy import build

    original = build.server_config

    def unverified(msg):  # the planted bug: a certificate is asked for but not checked
        built = original(msg)
        built.context.verify_mode = ssl.CERT_NONE
        return built

    monkeypatch.setattr(build, "server_config", unverified)
    built = _config(tmp_path)
    with pytest.raises(InvariantViolation) as caught:
        Session(built).run(_client(OTHER))
    assert caught.value.name == "tls_downstream_client_auth_not_enforced", str(caught.value)
    assert "trusted_ca" in caught.value.detail


def test_the_model_reads_the_client_certificates():
    from fuzz import tls_session
    from proxy.config import schema

    tls = schema.message_class(schema.BOOTSTRAP_DESCRIPTOR.file.message_types_by_name["DownstreamTlsContext"])()
    assert tls_session._why_client_refused(tls, "") == ""  # no validation_context: nothing asked for
    tls.common_tls_context.validation_context.trusted_ca.filename = test_pki.ca_paths()[0]
    assert tls_session._why_client_refused(tls, "") == ""  # asked for, not required
    assert tls_session._why_client_refused(tls, "client") == ""
    assert "trusted_ca" in tls_session._why_client_refused(tls, "other-client")
    tls.require_client_certificate = True
    assert "no certificate" in tls_session._why_client_refused(tls, "")
    tls.common_tls_context.validation_context.match_subject_alt_names.append("spiffe://proxyfuzz.test/client")
    assert tls_session._why_client_refused(tls, "client") == ""
    tls.common_tls_context.validation_context.match_subject_alt_names[0] = "spiffe://proxyfuzz.test/other"
    assert "match_subject_alt_names" in tls_session._why_client_refused(tls, "client")


def test_a_pki_remade_under_a_running_process_changes_no_verdict(tmp_path, monkeypatch):
    """The shared test PKI may be deleted and remade (new CA) while a fuzzing process runs: its built
    configurations keep the CA they loaded, so the peers and this oracle keep the PKI as the process
    first read it (fuzz/test_pki.py). Before, the oracle read the new CA from disk beside the old
    client certificate and found 'client' not enforced on the same input that passed a moment ago."""
    import shutil

    monkeypatch.setenv("PROXYFUZZ_PKI", str(tmp_path / "pki"))
    built = _config(tmp_path, require_client_certificate=True)
    assert _connected(Session(built).run(_client(CLIENT))) == [True]
    first_ca = (tmp_path / "pki" / "ca.pem").read_bytes()
    shutil.rmtree(tmp_path / "pki")
    test_pki.ensure()
    assert (tmp_path / "pki" / "ca.pem").read_bytes() != first_ca  # a new generation on disk
    assert _connected(Session(built).run(_client(CLIENT) + _client(OTHER))) == [True, False]
    # A configuration built from now on (network_filter builds one per input) names the process's
    # copy of the generation its peers present.
    assert (test_pki.ensure() / "ca.pem").read_bytes() == first_ca
    later = _config(tmp_path, require_client_certificate=True)
    assert _connected(Session(later).run(_client(CLIENT) + _client(OTHER))) == [True, False]
