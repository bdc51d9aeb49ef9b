"""Seeds of the runtime harness (fuzz/targets/runtime.py), written as readable scripts:
`python -m fuzz.targets.runtime_seeds [corpus/runtime]`.

On the harness's own configuration (entry 0: listeners tcp, web, secure; clusters c0, c1): TCP
exchanges with half closes, resets, refused and timed-out connects, a client and an upstream that
stop reading under each kernel capacity, every HTTP request and response template, the admin's
every request (pipelined, unread, half closed, malformed) and stops; then HTTP and TCP exchanges on
a few entries of the session pool."""

from pathlib import Path

from fuzz.targets.runtime import CAPACITIES, REQUESTS, RESPONSES, Action as A, configs, encode_actions
from fuzz.targets.runtime_admin import REQUESTS as ADMIN_REQUESTS

TCP, WEB = 0, 1  # listener choices on the harness's configuration
SHARED = (  # the admin served by the parent of --concurrency 1 (runtime_parent.py)
    "tcp_exchange_half_closes",
    "admin_two_clients_and_traffic",
    "stop_with_open_connections",
    "tcp_connect_timeout",
    "admin_every_request",
    "admin_pipelined_unread",
    "admin_half_closed_after_pipelining",
    "admin_bursts_unread",
    "admin_unread_answers_time_out",
    "admin_raw_targets",
    "stop_twice_with_open_connections",
    "admin_partial_request_line_goes_quiet",
)


def _exchange(client: int = 0, listener: int = TCP, payload: bytes = b"hello", repeat: int = 1) -> list:
    return [
        A("connect", client, listener),
        A("send", client, repeat, payload),
        A("upstream_accept"),
        A("upstream_read", client),
        A("upstream_send", client, repeat, b"back:" + payload),
        A("read", client),
    ]


def scripts() -> dict:
    out = {
        "tcp_exchange_half_closes": _exchange()
        + [A("close"), A("upstream_read"), A("upstream_send", 0, 1, b"late"), A("upstream_close"), A("read")],
        "tcp_client_reset": _exchange() + [A("send", 0, 64, b"x" * 1024), A("reset"), A("upstream_read")],
        "tcp_upstream_reset": _exchange() + [A("upstream_send", 0, 64, b"y" * 1024), A("upstream_reset"), A("read")],
        "tcp_connect_refused": [A("connect"), A("send", 0, 1, b"early"), A("upstream_refuse"), A("read")],
        "tcp_connect_timeout": [A("connect"), A("send", 0, 1, b"early"), A("advance", 0, 4), A("upstream_accept")],
        "tcp_late_accept": [A("connect"), A("send", 0, 2, b"queued"), A("advance", 0, 3), A("upstream_accept")]
        + [A("upstream_read"), A("upstream_send", 0, 1, b"ok"), A("read")],
        # The upstream reads nothing: the proxy must pause the client's socket, then resume it.
        "tcp_upstream_stops_reading": [A("connect"), A("upstream_accept"), A("send", 0, 128, b"u" * 2048)]
        + [A("advance", 0, 1), A("upstream_read", 0, 3), A("upstream_read", 0, 4), A("upstream_read")],
        # The client reads nothing: the upstream's socket is paused, the transport holds one chunk.
        "tcp_client_stops_reading": [A("connect"), A("send", 0, 1, b"go"), A("upstream_accept")]
        + [A("upstream_send", 0, 128, b"d" * 2048), A("read", 0, 1), A("read", 0, 3), A("read")],
        # The client half-closes and reads on: the upstream must see the FIN and still be read.
        "tcp_client_half_close_upstream_answers": _exchange()
        + [A("close"), A("upstream_read"), A("upstream_send", 0, 3, b"more"), A("read")],
        # The upstream sends a lot and closes; the client reads late: the close waits for the flush.
        "tcp_upstream_closes_before_client_reads": [A("connect"), A("upstream_accept"), A("send", 0, 1, b"go")]
        + [A("upstream_read"), A("upstream_send", 0, 64, b"e" * 1024, end=True), A("read", 0, 3)],
        # The upstream resets while backpressure pauses its socket (unseen), then the client half-closes:
        # the FIN toward the reset socket fails (ENOTCONN), which ends the connection as a reset.
        "tcp_upstream_reset_unseen_then_half_close": [A("connect"), A("upstream_accept"), A("send", 0, 1, b"hi")]
        + [A("upstream_read"), A("upstream_send", 0, 128, b"d" * 2048), A("upstream_reset"), A("close"), A("read")],
        "tcp_two_clients_interleaved": _exchange(0) + _exchange(1, TCP, b"other") + [A("reset", 0), A("read", 1)],
        # Clients that reset before the proxy takes them from the accept queue (a port scan, a
        # health check closing with SO_LINGER 0), on each listener; the first client goes on.
        "connect_reset_before_accept": _exchange()
        + [A("connect_reset", 1, TCP), A("connect_reset", 2, WEB), A("connect_reset", 3, 2), A("upstream_accept", 1)]
        + [A("send", 0, 1, b"still"), A("upstream_read"), A("read"), A("admin", 0, 1), A("admin_read")],
    }
    for i in range(len(REQUESTS)):
        j = i % len(RESPONSES)
        out[f"http_request_{i}_response_{j}"] = [
            A("connect", 0, WEB),
            A("send_http", 0, i),
            A("upstream_accept"),
            A("upstream_read"),
            A("upstream_http", 0, j, end=(j == 3)),
            A("read"),
            A("upstream_http", 0, (j + 1) % len(RESPONSES)),
            A("read"),
        ]
    # HTTP/1.0: the proxy closes after the response, with most of it not yet taken by the client.
    out["http10_large_response_closes_after_flush"] = [A("connect", 0, WEB), A("send_http", 0, 4), A("upstream_accept")]
    out["http10_large_response_closes_after_flush"] += [A("upstream_read"), A("upstream_http", 0, 6), A("read", 0, 2)]
    out["http_client_stops_reading_large_response"] = [A("connect", 0, WEB), A("send_http", 0, 0), A("upstream_accept")]
    out["http_client_stops_reading_large_response"] += [
        A("upstream_read"),
        A("upstream_http", 0, 6),
        A("advance", 0, 2),
    ]
    # The upstream answers and closes (RFC 9112 9.6) while a slow client's next request waits for a
    # second connection: the first one must not take it (its end of stream is read before reuse).
    out["http_upstream_closes_after_response_next_request_waits"] = [A("connect", 0, WEB), A("send_http", 0, 0)]
    out["http_upstream_closes_after_response_next_request_waits"] += [
        A("upstream_accept"),
        A("upstream_http", 0, 6, end=True),
        A("send_http", 0, 0),
    ]
    out["admin_every_request"] = [A("admin", 0, k) for k in range(len(ADMIN_REQUESTS) - 3)] + [A("admin_read")]
    out["admin_pipelined_unread"] = [A("admin", 0, 3)] * 40 + [A("admin", 0, 1), A("admin", 0, 2)]
    out["admin_pipelined_unread"] += [A("admin_read", 0, 3), A("admin_read", 0, 4), A("admin_read")]
    out["admin_half_closed_after_pipelining"] = [A("admin", 0, 1), A("admin", 0, 2), A("admin", 0, 0, end=True)]
    out["admin_burst_then_half_close"] = [A("admin", 0, 96 + 1, end=True), A("admin_read")]
    out["admin_bursts_unread"] = [A("admin", 0, 96 + 3)] * 12 + [A("admin", 0, 64 + 2), A("admin_read", 0, 2)]
    out["admin_malformed_then_more"] = [A("admin", 0, len(ADMIN_REQUESTS) - 2), A("admin", 0, 1), A("admin_read")]
    # The stream idle timeout (5 min): a head never finished gets a 408; a client that stops reading
    # its answers is closed.
    out["admin_unfinished_head_times_out"] = [A("admin", 0, 1), A("admin", 0, len(ADMIN_REQUESTS) - 1)]
    out["admin_unfinished_head_times_out"] += [A("advance", 0, 7)] * 3 + [A("admin_read")]
    out["admin_unread_answers_time_out"] = [A("admin", 0, 96 + 3)] * 30 + [A("advance", 0, 7)] * 3 + [A("admin_read")]
    # Half a request line, then nothing (slowloris): the harness runs time past the timeout at rest.
    out["admin_partial_request_line_goes_quiet"] = [A("admin", 0, 1), A("admin_send", 0, 1, b"GET /sta")]
    out["admin_partial_request_line_goes_quiet"] += [
        A("admin_send", 1, 1, b"GET /ready HTTP/1.1\r\nHo"),
        A("admin_read"),
    ]
    # The same with a data-plane request left half sent: its timeouts fire in that time too, in memory as well.
    out["admin_and_data_plane_requests_go_quiet"] = [A("connect", 0, WEB), A("send", 0, 1, b"GET / HTTP/1.1\r\nHo")]
    out["admin_and_data_plane_requests_go_quiet"] += [A("admin_send", 0, 1, b"GET /sta"), A("admin_read"), A("read")]
    # Raw bytes on the admin: targets no URL parser reads, origin-form edges, a chunked body, a huge head.
    raw = [b"http://[::1/", b"//x/stats", b"*", b"/stats?format", b"/\xff", b"http://admin/ready?format=json"]
    out["admin_raw_targets"] = [A("admin_send", 0, 1, b"GET " + t + b" HTTP/1.1\r\nHost: a\r\n\r\n") for t in raw]
    out["admin_raw_targets"] += [A("admin_read")]
    chunked = b"POST /stats HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    out["admin_raw_bodies_and_large_heads"] = [
        A("admin_send", 0, 1, chunked),
        A("admin_send", 1, 40, b"X-Pad: " + b"p" * 1000 + b"\r\n"),
    ]
    out["admin_raw_bodies_and_large_heads"] += [A("admin_read", 0), A("admin_read", 1)]
    out["admin_two_clients_and_traffic"] = _exchange() + [A("admin", 0, 1), A("admin", 1, 2), A("admin", 0, 5)]
    out["admin_two_clients_and_traffic"] += [A("admin_read", 1), A("admin_close", 0), A("admin_read", 0)]
    out["stop_with_open_connections"] = _exchange() + [A("admin", 0, 0), A("stop"), A("admin", 0, 0)]
    out["stop_twice_with_open_connections"] = _exchange() + [A("stop"), A("admin", 0, 0), A("stop"), A("admin", 0, 1)]
    out["stop_with_open_connections"] += [A("connect"), A("advance", 0, 5), A("admin_read")]
    out["stop_while_connecting"] = [A("connect"), A("send", 0, 1, b"x"), A("stop"), A("advance", 0, 4)]
    # The client leaves after one request, its keep-alive upstream connection idle in the pool; then a
    # stop, and the same with the stop first: the drain ends with the client, not at its timeout.
    http_then_client_leaves = [A("connect", 0, WEB), A("send_http", 0, 0), A("upstream_accept"), A("upstream_read")]
    http_then_client_leaves += [A("upstream_http", 0, 0), A("read"), A("close"), A("read")]
    out["stop_after_the_last_client_left"] = http_then_client_leaves + [A("stop"), A("advance", 0, 2)]
    out["stop_then_the_last_client_leaves"] = http_then_client_leaves[:6] + [A("stop"), A("close"), A("read")]
    # Out of descriptors for an accept or two: clients wait in the backlog through the listener's pause,
    # one arriving during it and one after it; the admin's listener the same.
    out["accept_fails_with_clients_waiting"] = [A("accept_fail", 0), A("connect"), A("connect")]
    out["accept_fails_with_clients_waiting"] += [A("send", 0, 1, b"one"), A("send", 1, 1, b"two"), A("advance", 0, 4)]
    out["accept_fails_with_clients_waiting"] += [A("upstream_accept"), A("upstream_accept"), A("upstream_read")]
    out["accept_fails_with_clients_waiting"] += [A("upstream_send", 0, 1, b"back"), A("read")]
    out["accept_fails_then_a_client_after_the_pause"] = [A("accept_fail", 1), A("connect"), A("advance", 0, 4)]
    out["accept_fails_then_a_client_after_the_pause"] += [A("connect", 1), A("send", 1, 1, b"late"), A("advance", 0, 4)]
    out["accept_fails_then_a_client_after_the_pause"] += [A("upstream_accept"), A("upstream_accept"), A("read", 1)]
    out["admin_accept_fails"] = [A("accept_fail", 0), A("admin", 0, 1), A("admin", 1, 2), A("admin_read", 0)]
    out["admin_accept_fails"] += [A("admin_read", 1)]
    return out


def pool_scripts() -> dict:
    """On pool entries: two HTTP exchanges on the first listener, and a raw exchange on the last."""
    out = {}
    names = configs().names
    for index in range(1, min(len(names), 9)):
        script = [A("connect", 0, 0), A("send_http", 0, 0), A("upstream_accept"), A("upstream_read")]
        script += [A("upstream_http", 0, 0), A("read"), A("send_http", 0, 1), A("upstream_read")]
        script += [A("upstream_http", 0, 1), A("read"), A("connect", 1, 255), A("send", 1, 1, b"raw")]
        script += [A("upstream_accept"), A("upstream_read"), A("admin", 0, 1), A("admin", 0, 2), A("admin", 0, 3)]
        out[(index, Path(names[index]).stem)] = script
    return out


def write_seeds(out) -> int:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, script in scripts().items():
        for c, capacity in enumerate(CAPACITIES[:3]):
            (out / f"{name}-cap{capacity}").write_bytes(encode_actions(script, 0, c))
            count += 1
    # As a worker of --concurrency N: listening sockets bound by a parent, the admin beside the server.
    for name in SHARED:
        (out / f"{name}-shared").write_bytes(encode_actions(scripts()[name], 0, 1 + len(CAPACITIES)))
        count += 1
    for (index, stem), script in pool_scripts().items():
        (out / f"pool-{stem}").write_bytes(encode_actions(script, index, 0))
        count += 1
    return count


if __name__ == "__main__":
    import sys

    print(f"wrote {write_seeds(sys.argv[1] if len(sys.argv) > 1 else 'corpus/runtime')} seeds")
