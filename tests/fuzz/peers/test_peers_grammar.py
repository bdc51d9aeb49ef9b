"""The RFC grammar the peers hold forwarded messages to (fuzz/peers/grammar.py), and the hostile shapes
of the payload templates reaching it through a session when the proxy's own validation is gone."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.peers import grammar
from fuzz.session import Action as A, Session
from tests.fuzz.peers.test_peers import built


@pytest.mark.parametrize("target", [b"/", b"/a/b?c=d", b"/%41", b"//x", b"/a?x=[1]", b"/a;p=1/b:c@d", b"/?"])
def test_origin_form_targets_pass(target):
    assert grammar.origin_form(target) is None


@pytest.mark.parametrize(
    "target,reason",
    [
        (b"/a#f", "fragment"),
        (b"/a\\b", "not allowed"),
        (b"/%zz", "percent"),
        (b"/%4", "percent"),
        (b"a", "origin-form"),
        (b"/a b", "not allowed"),
        (b"http://h/", "origin-form"),
    ],
)
def test_targets_outside_rfc_3986_fail(target, reason):
    assert reason in grammar.origin_form(target)


def test_the_two_other_forms_only_with_their_methods():
    assert grammar.request_target(b"OPTIONS", b"*") is None and grammar.request_target(b"GET", b"*") is not None
    assert grammar.request_target(b"CONNECT", b"h:443") is None and grammar.request_target(b"CONNECT", b"u@h:1")


@pytest.mark.parametrize("value", [b"a.example", b"a:80", b"[::1]:443", b"[v1.x]", b"10.0.0.1:1", b"%41.com", b"h:"])
def test_authorities_pass(value):
    assert grammar.authority(value) is None


@pytest.mark.parametrize("value", [b"h/evil", b"u@evil", b"a:8x", b"[::1", b"[zz]", b"a b", b"[::1]x"])
def test_authorities_fail(value):
    assert grammar.authority(value) is not None


def test_field_names_and_values():
    assert grammar.field_name(b"x_y") is None and grammar.field_name(b"x y") and grammar.field_name(b"")
    assert grammar.field_value(b"") is None and grammar.field_value(b"a \tb") is None
    assert grammar.field_value(b"\xe9t\xe9") is None  # obs-text
    assert grammar.field_value(b" a") and grammar.field_value(b"a\r\nb") and grammar.field_value(b"a\x00")


def test_fields_kept_out_of_trailers():
    for name in (b"content-length", b"transfer-encoding", b"host", b"authorization", b"te", b"content-type"):
        assert name in grammar.FORBIDDEN_IN_TRAILERS
    assert b"x-checksum" not in grammar.FORBIDDEN_IN_TRAILERS and b"grpc-status" not in grammar.FORBIDDEN_IN_TRAILERS


# Seeds of the h1_request template with byte 7 picking a hostile shape (fuzz/hostile.py): 1 "/admin#frag",
# 2 "/a\b", 3 "/%zz"; 12 an authority "h/evil", 13 "u@evil".
@pytest.mark.parametrize(
    "shape,oracle",
    [
        (1, "peer_forwarded_target"),
        (2, "peer_forwarded_target"),
        (3, "peer_forwarded_target"),
        (12, "peer_forwarded_authority"),
        (13, "peer_forwarded_authority"),
    ],
)
def test_hostile_shapes_forwarded_by_a_proxy_without_validation_are_caught(monkeypatch, shape, oracle):
    from proxy.http import _h1_strict, h1, headers

    script = [
        A("connect"),
        A("send_http", value=0, payload=bytes([0, 0, 0, 0, 0, 0, 0, shape])),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ]
    s = Session(built()).run(script)  # the proxy refuses the shape itself
    assert not any(ex.upstreams for ex in s.peers.exchanges)
    for module in (headers, _h1_strict, h1):
        for name in ("target_problem", "is_authority"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, (lambda t: None) if name == "target_problem" else (lambda b: True))
    with pytest.raises(InvariantViolation, match=oracle):
        Session(built()).run(script)
