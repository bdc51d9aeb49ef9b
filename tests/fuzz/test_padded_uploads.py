"""Session peers pad some HTTP/2 uploads (fuzz/payloads.py PADS, RFC 9113 6.1), so the flow-control
accounting at quiescence (fuzz/flow_control.py) sees padding: the proxy credits it back as it does the
data, and a codec that forgets the padding is found."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session_seeds import HTTP
from tests.fuzz.test_liveness import http, run

SCRIPT = HTTP["h2_padded_upload"]


def test_padded_uploads_are_answered_and_their_padding_credited():
    s = run(http(codec="HTTP2"), SCRIPT)
    upstream = bytes(s.network.opened[0].io.received)
    assert b"P" * 13 in upstream and b"abc" in upstream and b"tail" in upstream
    assert bytes(s.downstream[0].received).count(b"ok") == 2


def test_a_codec_that_never_credits_padding_is_found(monkeypatch):
    import h2.events

    from proxy.http import h2 as h2_codec

    original = h2_codec._H2Codec._translate

    def translate(self, ev, merged, events):  # the planted bug: padding is not given back
        if isinstance(ev, h2.events.DataReceived):
            ev.flow_controlled_length = len(ev.data)
        original(self, ev, merged, events)

    monkeypatch.setattr(h2_codec._H2Codec, "_translate", translate)
    with pytest.raises(InvariantViolation) as caught:
        run(http(codec="HTTP2"), SCRIPT)
    assert caught.value.name == "h2_window_not_credited", str(caught.value)
