"""The uber network filter harness: every registered filter is reachable, seeds run, the
write-path probe turns a misapplied StopIteration into a crash."""

from pathlib import Path

import pytest

from fuzz import oracles
from fuzz.session import Action
from fuzz.targets import network_filter as nf
from proxy.config import schema
from proxy.network.registry import registered_network_filters

ECHO = [
    Action("upstream_connect"),
    Action("send", payload=b"abc"),
    Action("upstream_read"),
    Action("upstream_send", payload=b"one"),
    Action("read"),
    Action("upstream_send", payload=b"two"),
    Action("read"),
]


def tcp_proxy_config():
    config = schema.TcpProxy()
    config.cluster = "backend"
    return config


def test_every_registered_filter_with_a_schema_entry_is_fuzzed():
    assert set(nf.filter_names()) == {
        n for n in registered_network_filters() if n in schema.NetworkFilter.DESCRIPTOR.fields_by_name
    }
    assert {"tcp_proxy", "rbac", "local_ratelimit", "fault"} <= set(nf.filter_names())


def test_a_seed_builds_a_listener_with_the_filter_and_its_clusters():
    boot = nf.bootstrap_for("tcp_proxy", tcp_proxy_config().SerializeToString())
    assert [c.name for c in boot.clusters] == ["backend"]
    nf.run(nf.seed("tcp_proxy", tcp_proxy_config(), 0, ECHO))


def test_garbage_configurations_return_early():
    nf.run(b"\x03\x00\x05\xff\xff\xff\xff\xff")
    nf.run(b"")


def test_the_write_probe_catches_stop_iteration_ignored_on_the_write_path(monkeypatch):
    from proxy.network.filter import CONTINUE
    from proxy.network.filter_manager import FilterManager

    def ignores_stop(self, start, buf, end_stream):  # the planted bug
        for active in self.write_filters[start:]:
            active.filter.on_write(buf, end_stream)
        return CONTINUE

    data = nf.seed("tcp_proxy", tcp_proxy_config(), 0b10, ECHO)
    nf.run(data)  # correct code: the second chunk is dropped and never reaches the wire
    monkeypatch.setattr(FilterManager, "on_write", ignores_stop)
    with pytest.raises(oracles.InvariantViolation, match="write_stop_iteration_ignored"):
        nf.run(data)


def fault_delay_config():
    config = schema.Fault()
    config.delay_ms = 100
    return config


def test_filter_rules_catch_a_filter_left_uninitialized_after_a_resume(skip_on_new_connection_after_resume):
    """fault holds the connection, then resumes iteration: tcp_proxy after it must be reached.
    With tcp_proxy it never gets data (its reads stay disabled until it connects), so only the
    rule on the resume itself sees the skipped on_new_connection."""

    script = [
        Action("send", payload=b"abc"),
        Action("advance", value=1_000),
        Action("upstream_connect"),
        Action("upstream_read"),
        Action("read"),
    ]
    data = nf.seed("fault", fault_delay_config(), 0, script)
    nf.run(data)
    skip_on_new_connection_after_resume()  # the planted bug: only the first pass initializes
    with pytest.raises(oracles.InvariantViolation, match="resume_skipped_on_new_connection"):
        nf.run(data)


def test_one_payload_backs_a_connection_up_past_its_high_watermark():
    """The harness's buffer limit is small enough for the session's largest payload to cross it."""
    from fuzz import session

    boot = nf.bootstrap_for("tcp_proxy", tcp_proxy_config().SerializeToString())
    assert boot.listeners[0].per_connection_buffer_limit_bytes + 1 < session.MAX_PAYLOAD
    assert all(c.per_connection_buffer_limit_bytes + 1 < session.MAX_PAYLOAD for c in boot.clusters)


REGRESSION = Path(__file__).resolve().parents[3] / "corpus" / "network_filter"


@pytest.mark.parametrize(
    "seed", ["regression-hcm-probe-drops-local-reply-head", "regression-hcm-probe-drops-response-head-start"]
)
def test_peers_judge_what_a_client_read_only_when_no_probe_dropped_part_of_it(monkeypatch, seed):
    """CI: http_connection_manager, a write probe dropping chunks 0, 2, 4-6 of each 8: the client
    read the 503's body without its head, and the HTTP peers judged that (llhttp rejects) as the
    proxy's response; a 120 s run: the probe dropped the start of a head, h11 refused the rest
    as it arrived. With the probe off (mode 0) the same exchange is judged, and a proxy that loses
    a response's status line is caught."""
    from proxy.http.h1 import H1ServerCodec

    data = (REGRESSION / seed).read_bytes()
    nf.run(data)
    at = 3 + int.from_bytes(data[1:3], "big")  # the probe mode byte follows the configuration
    assert data[at] != 0
    unprobed = data[:at] + b"\x00" + data[at + 1 :]
    nf.run(unprobed)
    real = H1ServerCodec.data_to_send

    def loses_status_line(self):  # the planted bug
        out = real(self)
        return out.split(b"\r\n", 1)[1] if out.startswith(b"HTTP/1.1 ") else out

    monkeypatch.setattr(H1ServerCodec, "data_to_send", loses_status_line)
    with pytest.raises(oracles.InvariantViolation, match="peer_h1_response"):
        nf.run(unprobed)


@pytest.mark.parametrize(
    "seed",
    [
        "regression-idless-pipelined-same-line-different-bodies",
        "regression-idless-pipelined-same-line-different-fields",
    ],
)
def test_idless_requests_with_one_line_and_different_contents_are_told_apart(monkeypatch, seed):
    """CI: GET /a/b?c=d with an 8-byte body, then the same line with a 399-byte body (or another
    http2-settings value); the first upstream fails, so only the second request goes upstream. The
    peers linked it to the oldest client request with that line and called its body (fields)
    changed; with the requests whole they pick the one it means. A proxy that alters the forwarded
    request is still caught."""
    from proxy.http.h1 import H1ClientCodec

    data = (REGRESSION / seed).read_bytes()
    nf.run(data)
    real = H1ClientCodec.send_request_headers

    def loses_a_field(self, method, target, authority, headers, *rest):  # the planted bug
        return real(self, method, target, authority, [f for f in headers if f[0] != b"http2-settings"], *rest)

    monkeypatch.setattr(H1ClientCodec, "send_request_headers", loses_a_field)
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_headers_changed"):
        nf.run(data)


def test_the_write_probe_reads_the_wire_of_a_client_speaking_tls_to_a_clear_text_listener(monkeypatch):
    """fuzz (network_filter, 120 s): a client starts TLS towards a tcp_proxy listener without TLS;
    the upstream's 7 bytes reach its wire, which its TLS stack cannot decrypt, and the probe compared
    the client's plaintext (nothing) with what it let through. The wire is compared now, and a write
    path that ignores the probe's StopIteration is still caught there."""
    from proxy.network.filter import CONTINUE
    from proxy.network.filter_manager import FilterManager

    data = (REGRESSION / "regression-tls-client-on-clear-text-tcp-proxy").read_bytes()
    nf.run(data)
    at = 3 + int.from_bytes(data[1:3], "big")  # the probe mode byte follows the configuration
    assert data[at] == 0
    dropping = data[:at] + b"\xff" + data[at + 1 :]  # every write chunk dropped

    def ignores_stop(self, start, buf, end_stream):  # the planted bug
        for active in self.write_filters[start:]:
            active.filter.on_write(buf, end_stream)
        return CONTINUE

    nf.run(dropping)
    monkeypatch.setattr(FilterManager, "on_write", ignores_stop)
    with pytest.raises(oracles.InvariantViolation, match="write_stop_iteration_ignored"):
        nf.run(dropping)


TLS_ECHO = [
    Action("connect_tls", value=1, payload=bytes([0b00001001])),  # the TLS listener, test client certificate
    Action("upstream_connect"),
    Action("send", 1, payload=b"abc"),
    Action("upstream_read"),
    Action("upstream_send", payload=b"one"),
    Action("read", 1),
    Action("upstream_send", payload=b"two"),
    Action("read", 1),
]


def test_the_write_probe_on_the_tls_listener_waits_for_records_the_client_has_not_read():
    """Found by fuzzing: the client read 12 bytes of a record holding the 49 the probe let through, so
    it had decrypted nothing yet; that is no ignored StopIteration."""
    nf.run((REGRESSION / "regress-tls-client-reads-part-of-a-record").read_bytes())


def test_the_write_probe_catches_stop_iteration_ignored_behind_tls(monkeypatch):
    from proxy.network.filter import CONTINUE
    from proxy.network.filter_manager import FilterManager

    def ignores_stop(self, start, buf, end_stream):  # the planted bug
        for active in self.write_filters[start:]:
            active.filter.on_write(buf, end_stream)
        return CONTINUE

    data = nf.seed("tcp_proxy", tcp_proxy_config(), 0b10, TLS_ECHO)
    nf.run(data)
    monkeypatch.setattr(FilterManager, "on_write", ignores_stop)
    with pytest.raises(oracles.InvariantViolation, match="write_stop_iteration_ignored"):
        nf.run(data)


def test_an_http2_client_whose_reads_the_probe_cut_still_records_what_it_sends(monkeypatch):
    """Found by fuzzing: the probe dropped part of what the proxy wrote to an HTTP/2 client, which
    then judged nothing it read (tainted) and also stopped recording its own DATA, so the 32768 body
    bytes the proxy rightly forwarded looked invented. Its frames still go out whole: a proxy that
    changes a byte of that body is still caught."""
    from proxy.http.filters.router import Router

    data = (REGRESSION / "regress-h2-client-sends-after-its-reads-were-cut").read_bytes()
    nf.run(data)
    original = Router.decode_data

    def flips_a_byte(self, data, end_stream):  # the planted bug
        if len(data):
            body = bytearray(data.bytes())
            body[0] ^= 1
            data.drain(len(data))
            data.add(bytes(body))
        return original(self, data, end_stream)

    monkeypatch.setattr(Router, "decode_data", flips_a_byte)
    with pytest.raises(oracles.InvariantViolation, match="peer_forwarded_body_changed"):
        nf.run(data)


def test_the_request_models_do_not_judge_answers_the_write_probe_dropped():
    """fuzz ci (final clean-clone run of 4a19408): write-probe mode 00000011 dropped the first pipelined
    answer, so the client paired the next request's 403 with the first request, and
    model_local_reply_session judged that altered reading as the proxy's answer."""
    seed = (
        Path(__file__).parents[3] / "corpus" / "network_filter" / "regress-a-dropped-answer-is-not-judged-by-the-models"
    )
    assert nf.describe(seed.read_bytes()).startswith("filter http_connection_manager, write-probe mode 00000011")
    nf.run(seed.read_bytes())  # raised model_local_reply_session before
