"""Each registered HTTP filter through the connection manager: rbac, local_ratelimit, fault,
header_mutation; and the registry itself."""

import pytest

from proxy.config.gen import bootstrap_pb2
from proxy.event import SimulatedDispatcher
from proxy.http.filter import StreamFilter
from proxy.http.registry import http_filter_factory, registered_http_filters

from httpscript import Proxy, basic_config, ok, parse_requests, parse_responses

GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


def with_filters(yaml: str, **kw) -> Proxy:
    return Proxy(basic_config(filters="\n              http_filters:" + yaml), **kw)


def status_of(p, client, request=GET):
    client.send(request)
    while p.new_upstream_count():
        p.upstream().accept()
    for up in p.upstreams():
        if up.conn.is_open and len(up.conn.write_buffer):
            up.read()
            up.send(ok())
    return parse_responses(client.read())[0][0]


RBAC = """
                - rbac:
                    action: DENY
                    policies:
                      - {name: no_deletes, methods: [DELETE]}
                      - {name: admin, path_prefixes: [/admin]}
                      - name: bad_header
                        headers: [{name: x-evil, present: true}]
                      - {name: lan, source_prefixes: [10.0.0.0/8]}"""


@pytest.mark.parametrize(
    "request_bytes, remote, expected",
    [
        (GET, "127.0.0.1", 200),
        (b"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1", 403),
        (b"GET /admin/x HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1", 403),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nX-Evil: 1\r\n\r\n", "127.0.0.1", 403),
        (GET, "10.1.2.3", 403),
    ],
)
def test_rbac_denies_by_method_path_header_and_source(request_bytes, remote, expected):
    p = with_filters(RBAC)
    c = p.client(remote=(remote, None))
    assert status_of(p, c, request_bytes) == expected
    if expected == 403:
        assert p.log.records[0]["attributes"]["proxy.response_flags"] == "-"  # Envoy has no RBAC flag
        assert p.new_upstream_count() == 0
        assert p.counter("http.rbac.denied") == 1


def test_rbac_allow_policy_and_shadow_mode():
    allow = """
                - rbac:
                    action: ALLOW
                    policies: [{name: gets, methods: [GET, HEAD]}]"""
    p = with_filters(allow)
    assert status_of(p, p.client()) == 200
    assert status_of(p, p.client(), b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n") == 403
    p = with_filters(allow + "\n                    shadow: true")
    assert status_of(p, p.client(), b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n") == 200
    assert p.counter("http.rbac.shadow_denied") == 1


def test_local_ratelimit_429_then_refill_on_virtual_time():
    p = with_filters("""
                - local_ratelimit: {max_tokens: 2, tokens_per_fill: 1, fill_interval_ms: 1000}""")
    c = p.client()
    assert [status_of(p, c) for _ in range(3)] == [200, 200, 429]
    assert p.log.records[-1]["attributes"]["proxy.response_flags"] == "RL"
    p.advance(1000)
    assert status_of(p, c) == 200
    assert p.counter("http.local_ratelimit.rate_limited") == 1
    assert p.stats_add_up()


def test_fault_abort():
    p = with_filters("""
                - fault: {abort_status: 503, abort_percent: 100}""")
    c = p.client()
    assert status_of(p, c) == 503
    assert p.log.records[0]["attributes"]["proxy.response_flags"] == "FI"
    assert p.new_upstream_count() == 0


def test_fault_abort_share_is_deterministic_under_a_seed():
    def aborted(seed):
        p = with_filters(
            """
                - fault: {abort_status: 502, abort_percent: 30}""",
            seed=seed,
        )
        p.network.auto_connect = True
        c = p.client()
        out = []
        for _ in range(200):
            out.append(status_of(p, c))
        return out

    first = aborted(3)
    assert first == aborted(3)
    assert 40 <= first.count(502) <= 80


def test_fault_delay_holds_the_request_then_forwards_it():
    p = with_filters("""
                - fault: {delay_ms: 500}""")
    c = p.client()
    c.send(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    p.advance(499)
    assert p.new_upstream_count() == 0
    p.advance(1)
    up = p.upstream().accept()
    [(method, _, _, body)] = parse_requests(up.read())
    assert (method, body) == (b"POST", b"abc")
    up.send(ok())
    assert parse_responses(c.read())[0][0] == 200
    assert p.log.records[0]["attributes"]["proxy.response_flags"] == "DI"


def test_body_over_the_limit_during_a_delay_waits_then_goes_upstream_whole():
    """Envoy's fault filter stops reading a delayed request over the buffer limit (decodeData:
    StopIterationAndWatermark) rather than refusing it: this answered 413 before."""
    cfg = basic_config(
        filters="""
              http_filters:
                - fault: {delay_ms: 500}"""
    ).replace("    filter_chains:", "    per_connection_buffer_limit_bytes: 1024\n    filter_chains:")
    p = Proxy(cfg)
    c = p.client()
    c.send(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"z" * 2000)
    assert c.read() == b""
    p.advance(499)
    assert p.new_upstream_count() == 0
    p.advance(1)
    up = p.upstream().accept()
    [(method, _, _, body)] = parse_requests(up.read())
    assert (method, body) == (b"POST", b"z" * 2000)
    up.send(ok())
    assert parse_responses(c.read())[0][0] == 200
    assert p.counter("http.downstream_rq_too_large") == 0 and p.stats_add_up()


def test_header_mutation_on_requests_responses_and_local_replies():
    p = with_filters("""
                - header_mutation:
                    request_headers_to_add: {x-proxied-by: proxyfuzz}
                    request_headers_to_remove: [x-internal]
                    response_headers_to_add: {x-served-by: proxyfuzz}
                    response_headers_to_remove: [server]""")
    c = p.client()
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Internal: secret\r\n\r\n")
    up = p.upstream().accept()
    [(_, _, headers, _)] = parse_requests(up.read())
    assert headers[b"x-proxied-by"] == b"proxyfuzz" and b"x-internal" not in headers
    up.send(ok(extra=b"Server: upstream/1.0\r\n"))
    [(_, rh, _)] = parse_responses(c.read())
    assert rh[b"x-served-by"] == b"proxyfuzz" and b"server" not in rh


def test_registry_lists_every_filter_and_each_builds_from_an_empty_config():
    from proxy.build import BuildContext
    from types import MappingProxyType

    names = registered_http_filters()
    assert names == ["fault", "header_mutation", "local_ratelimit", "rbac"]
    field_types = {f.name: f.message_type for f in bootstrap_pb2.HttpFilter.DESCRIPTOR.fields}
    for name in names:
        assert name in field_types, f"{name} is not a field of HttpFilter"
        msg = getattr(bootstrap_pb2.HttpFilter(), name)
        if name == "local_ratelimit":
            msg.max_tokens = msg.tokens_per_fill = 1
            msg.fill_interval_ms = 50
        make = http_filter_factory(name)(msg, BuildContext(MappingProxyType({}), "l", f"http_filters[0].{name}"))
        from proxy.context import ServerContext

        f = make(ServerContext(dispatcher=SimulatedDispatcher(), network=None))
        assert isinstance(f, StreamFilter)


def test_header_mutation_refuses_to_add_framing_headers():
    from types import MappingProxyType
    from proxy.build import BuildContext, BuildError

    msg = bootstrap_pb2.HeaderMutation()
    msg.response_headers_to_add["content-length"] = "5"
    with pytest.raises(
        BuildError, match=r"response_headers_to_add\[content-length\]: 'content-length' cannot be added"
    ):
        http_filter_factory("header_mutation")(msg, BuildContext(MappingProxyType({}), "l", "hm"))
