"""Shapes no committed session input reached (coverage.py over `fuzz replay session`), now seed scripts
of fuzz/session_seeds.py, each with the oracle that judges it:

- an HTTP/2 upload answered in full before it ends (RFC 9113 8.1): the router abandons the rest of the
  upload upstream (Envoy resets the upstream request); an upstream exchange left open after its
  downstream stream ended is a stall (fuzz/liveness.py stall_upstream_exchange_orphaned);
- request header or trailer sections over an HTTP/2 upstream's SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113
  6.5.2, fuzz/payloads.py LARGE_FIELD_BIT): never sent (h2_wire_header_list_too_large), answered 431
  (stall_request_without_outcome when nothing answers);
- response header or trailer sections over an HTTP/2 client's SETTINGS_MAX_HEADER_LIST_SIZE
  (fuzz/payloads.py LARGE_RESPONSE_FIELD_BIT): never sent, the head replaced by a 502, the trailers
  ending the stream with a reset, which fuzz/delivery.py no longer calls a lost response;
- an upstream's 100 Continue before its final response: the client gets the final response once.
"""

import pytest

from fuzz.session_seeds import HTTP
from tests.fuzz.test_liveness import fails, http, run

EARLY = {"HTTP1": "h2_answered_before_upload_ends_h1_upstream", "HTTP2": "h2_answered_before_upload_ends_h2_upstream"}
TOO_LARGE = HTTP["request_section_too_large_for_upstream"]
TOO_LARGE_FOR_CLIENT = HTTP["h2_response_section_too_large_for_client"]


def early_answer_config(upstream: str):
    return http(codec="HTTP2", cluster="protocol: HTTP2" if upstream == "HTTP2" else "")


def upstream_limit_config():
    return http(limit=1 << 20, cluster="protocol: HTTP2")


@pytest.mark.parametrize("upstream", ["HTTP1", "HTTP2"])
def test_an_answer_before_the_upload_ends_reaches_the_client_and_the_connection_serves_again(upstream):
    session = run(early_answer_config(upstream), HTTP[EARLY[upstream]])
    assert [(ex.response.status, bytes(ex.response.body)) for ex in session.peers.exchanges] == [
        (200, b"ok"),
        (200, b"ok"),
    ]


@pytest.mark.parametrize("upstream", ["HTTP1", "HTTP2"])
def test_a_router_that_leaves_the_abandoned_upload_open_upstream_is_found(monkeypatch, upstream):
    from proxy.http.filters.router import Router

    def complete_and_forget(self):  # the upstream stream is dropped, not reset
        self.response_done = self.done = True
        self._stop_timeout()
        if not self.request_end:
            self.upstream = None

    monkeypatch.setattr(Router, "_response_complete", complete_and_forget)
    fails("stall_upstream_exchange_orphaned", early_answer_config(upstream), HTTP[EARLY[upstream]])


def test_request_sections_over_the_upstream_limit_are_answered_431_and_never_sent():
    session = run(upstream_limit_config(), TOO_LARGE)
    assert sorted(ex.response.status for ex in session.peers.exchanges) == [200, 431, 431]
    assert session.ctx.stats.counter("cluster.web.upstream_rq_header_list_too_large") == 2


def test_a_proxy_that_ignores_the_upstreams_header_list_limit_is_found(monkeypatch):
    from proxy.http import h2

    monkeypatch.setattr(h2._H2Codec, "_check_header_list", lambda self, block: None)
    fails("h2_wire_header_list_too_large", upstream_limit_config(), TOO_LARGE)


def test_a_router_that_answers_nothing_for_a_section_too_large_is_found(monkeypatch):
    from proxy.http.filters.router import Router

    def give_up_silently(self):
        self._abandon_upstream()
        self.done = True

    monkeypatch.setattr(Router, "_too_large_for_upstream", give_up_silently)
    fails("stall_request_without_outcome", upstream_limit_config(), TOO_LARGE)


def client_limit_config():
    return http(limit=1 << 20, codec="HTTP2")


def test_response_sections_over_the_clients_limit_get_a_502_then_a_reset():
    session = run(client_limit_config(), TOO_LARGE_FOR_CLIENT)
    first, second = session.peers.exchanges
    assert (first.outcome, first.response.status) == ("response", 502)
    assert (second.outcome, second.reset_reason, bytes(second.response.body)) == ("reset", "CANCEL", b"hello")
    assert session.ctx.stats.counter("http.h2_header_list_too_large") == 2


def logged_outcomes(codec, cluster, actions):
    """(status, %RESPONSE_FLAGS%) of each access log record of a session under a manager that logs."""
    from fuzz.session import Action as A, Session
    from proxy.build import build
    from proxy.config import load_bytes
    from tests.fuzz.test_liveness import http_text

    config = http_text(limit=1 << 20, codec=codec, cluster=cluster, hcm="access_log: {stdout: true}")
    s = Session(build(load_bytes(config.encode(), "yaml")), models=True).run([A("connect")] + actions)
    assert s.models is not None
    return sorted((a["http.response.status_code"], a["proxy.response_flags"]) for a, _ in s.models.flagged.records)


def test_response_sections_over_the_clients_limit_flag_no_upstream_protocol_error():
    """The upstream's response was well formed: the 502 and the reset carry no flag, not UPE ("The
    upstream response had an HTTP protocol error", Envoy's access log docs, RESPONSE_FLAGS); Envoy
    itself sends such sections (docs/semantics.md), so no flag of its list names this cause."""
    assert logged_outcomes("HTTP2", "", TOO_LARGE_FOR_CLIENT) == [(200, "-"), (502, "-")]


def test_request_sections_over_the_upstreams_limit_flag_no_upstream_protocol_error():
    """The same in the other direction: the upstream sent no response at all, let alone a malformed
    one, so the 431s carry no flag (docs/semantics.md)."""
    assert logged_outcomes("HTTP1", "protocol: HTTP2", TOO_LARGE) == [(200, "-"), (431, "-"), (431, "-")]


def test_a_manager_that_ignores_the_clients_header_list_limit_is_found(monkeypatch):
    from proxy.http import h2

    monkeypatch.setattr(h2._H2Codec, "_check_header_list", lambda self, block: None)
    fails("h2_wire_header_list_too_large", client_limit_config(), TOO_LARGE_FOR_CLIENT)


def test_a_reset_for_trailers_the_client_could_take_is_still_a_lost_response(monkeypatch):
    """The delivery oracle leaves out only sections over the client's limit: the same response with the
    client's default limit, and trailers the manager refuses anyway, is response_lost."""
    from proxy.http import h2
    from proxy.http.codec import HeaderListTooLarge

    def refuse_trailers(self, stream_id, headers):
        raise HeaderListTooLarge(1, 0)

    monkeypatch.setattr(h2.H2ServerCodec, "send_trailers", refuse_trailers)
    fails("response_lost", client_limit_config(), TOO_LARGE_FOR_CLIENT[1:])


def test_an_upstreams_100_continue_leaves_one_final_response_per_request():
    session = run(http(codec="AUTO"), HTTP["upstream_100_continue"])
    assert [(ex.response.status, bytes(ex.response.body)) for ex in session.peers.exchanges] == [(200, b"ok")] * 2


def test_a_pool_that_passes_an_upstream_1xx_as_the_response_is_found(monkeypatch):
    from proxy.http.codec import InformationalResponse
    from proxy.http.filter import HttpFilterContractError
    from proxy.upstream.pool_conn import PoolConnection

    dispatch = PoolConnection._dispatch

    def as_final(self, ev):
        stream = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, InformationalResponse) and stream is not None:
            return stream.user.on_upstream_headers(ev.status, ev.headers, False, b"1.1")
        return dispatch(self, ev)

    monkeypatch.setattr(PoolConnection, "_dispatch", as_final)
    with pytest.raises(HttpFilterContractError):
        run(http(codec="AUTO"), HTTP["upstream_100_continue"])
