"""The live regression catalog (tests/e2e/catalog.py) against `python -m proxy`: every entry's bytes
in one TCP write, the proxy's answer read back, and the recording upstream asked what reached it
once the proxy is quiet (no request active downstream or upstream, per its admin /stats)."""

import json
import time
import urllib.request

import pytest

from conftest import LOOPBACK
from e2e.catalog import CATALOG, LISTENERS, Entry
from e2e.recorder import RecordingUpstream
from e2e.wire import PREFACE, Reaction, exchange

MAX_RSS_GROWTH_KB = 64 * 1024


def catalog_config(upstream_port: int) -> dict:
    routes = [
        {"match": {"path": "/admin"}, "direct_response": {"status": 403, "body": "admin\n"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "web"}},
    ]
    listeners = [
        {
            "name": f"cat_{name}",
            "address": {"host": LOOPBACK, "port": 0},
            "filter_chains": [
                {
                    "filters": [
                        {
                            "http_connection_manager": {
                                "codec": "AUTO",
                                "route_config": {
                                    "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]
                                },
                                **extra,
                            }
                        }
                    ]
                }
            ],
        }
        for name, extra in LISTENERS.items()
    ]
    return {
        "listeners": listeners,
        "clusters": [{"name": "web", "endpoints": [{"host": LOOPBACK, "port": upstream_port}]}],
        "admin": {"address": {"host": LOOPBACK, "port": 0}},
    }


@pytest.fixture(scope="module")
def catalog_stack(tmp_path_factory):
    from conftest import ProxyProcess

    upstream = RecordingUpstream().start()
    config = tmp_path_factory.mktemp("catalog") / "proxy.json"
    config.write_text(json.dumps(catalog_config(upstream.port)))
    proxy = ProxyProcess(config)
    try:
        proxy.wait_ready()
        admin = next(line.split(" on ")[1].strip() for line in proxy.stderr_lines if line.startswith("proxy: admin on"))
        yield {
            "proxy": proxy,
            "upstream": upstream,
            "admin": admin,
            "listeners": {name: proxy.listener_address(f"cat_{name}") for name in LISTENERS},
        }
    finally:
        proxy.kill()
        upstream.stop()


def proxy_stats(admin: str) -> dict:
    with urllib.request.urlopen(f"http://{admin}/stats?format=json", timeout=10) as r:
        return {s["name"]: s["value"] for s in json.load(r)["stats"]}


def wait_quiet(admin: str, timeout: float = 10.0) -> dict:
    """Poll the admin until no request is active downstream, pending or active upstream."""
    busy = ("http.downstream_rq_active", "cluster.web.upstream_rq_active", "cluster.web.upstream_rq_pending_active")
    deadline = time.monotonic() + timeout
    while True:
        stats = proxy_stats(admin)
        if not any(stats.get(name, 0) for name in busy) or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def finished(entry: Entry):
    """When the reader may stop before the proxy closes: never when the entry expects a close, else
    once `responses` responses (HTTP/1.1) or the entry's stream (HTTP/2) are complete."""

    def done(r: Reaction) -> bool:
        if entry.closes:
            return False
        if entry.send.startswith(PREFACE):
            return entry.stream in r.ended or entry.stream in r.rst
        return len(r.statuses) >= (entry.responses or 1)

    return done


def check(entry: Entry, r: Reaction, upstream: dict[int, bytes]) -> list[str]:
    """Every way the reaction differs from the entry's expectations."""
    problems = []
    h2 = entry.send.startswith(PREFACE)
    if entry.status is not None:
        got = r.status.get(entry.stream) if h2 else (r.statuses[0] if r.statuses else None)
        if got != entry.status:
            problems.append(f"status {got} (expected {entry.status})")
    if entry.responses is not None and len(r.statuses) != entry.responses:
        problems.append(f"{len(r.statuses)} responses {r.statuses} (expected {entry.responses})")
    if entry.statuses is not None and tuple(r.statuses) != entry.statuses:
        problems.append(f"statuses {r.statuses} (expected {list(entry.statuses)})")
    if entry.closes and not r.closed:
        problems.append("the connection stayed open")
    if entry.rst is not None and r.rst.get(entry.stream) != entry.rst:
        problems.append(f"RST_STREAM on stream {entry.stream}: {r.rst.get(entry.stream)} (expected {entry.rst})")
    if entry.goaway is not None and r.goaway != entry.goaway:
        problems.append(f"GOAWAY {r.goaway} (expected {entry.goaway})")
    sent = b"".join(upstream.values())
    if entry.forwarded is False and sent:
        problems.append(f"forwarded upstream: {sent[:300]!r}")
    if entry.forwarded is True and not sent:
        problems.append("nothing reached the upstream")
    problems += [f"upstream lacks {s!r}: {sent[:300]!r}" for s in entry.upstream_has if s not in sent]
    problems += [f"upstream got {s!r}: {sent[:300]!r}" for s in entry.upstream_lacks if s in sent]
    if r.h1_unparsable:
        problems.append(f"responses unparsable by h11: {r.h1_unparsable}")
    return problems


@pytest.mark.parametrize("entry", CATALOG, ids=[e.name for e in CATALOG])
def test_catalog_entry(catalog_stack, entry):
    proxy, upstream = catalog_stack["proxy"], catalog_stack["upstream"]
    before = rss_kb(proxy.proc.pid)
    mark = upstream.mark()
    reaction = exchange(catalog_stack["listeners"][entry.listener], entry.send, finished(entry))
    wait_quiet(catalog_stack["admin"])
    upstream.settle()
    problems = check(entry, reaction, upstream.since(mark))
    assert proxy.proc.poll() is None, "the proxy died:\n" + "".join(proxy.stderr_lines[-20:])
    growth = rss_kb(proxy.proc.pid) - before
    if growth > MAX_RSS_GROWTH_KB:
        problems.append(f"RSS grew by {growth} KiB")
    assert not problems, f"{entry.name}: " + "; ".join(problems) + f"\nproxy sent {reaction.raw[:300]!r}"


def test_catalog_check_reports_a_forwarded_attack():
    """The checker itself: an entry expected to stay local that reached the upstream is reported."""
    entry = Entry("x", b"GET / HTTP/1.1\r\n\r\n", status=400, responses=1, closes=True)
    answered = Reaction(statuses=[200, 200])
    problems = check(entry, answered, {1: b"GET /smuggled HTTP/1.1\r\n"})
    assert problems == [
        "status 200 (expected 400)",
        "2 responses [200, 200] (expected 1)",
        "the connection stayed open",
        "forwarded upstream: b'GET /smuggled HTTP/1.1\\r\\n'",
    ]


@pytest.mark.parametrize(
    "send, counter",
    [
        (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", "http.downstream_rq_4xx"),
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", "http.downstream_rq_5xx"),
    ],
)
def test_the_codecs_own_error_reply_moves_the_admins_response_counters(catalog_stack, send, counter):
    """HCM statistics: downstream_rq_4xx / _5xx count every response sent, the HTTP/1.1 codec's 400 and
    505 too (they were counted as h1_protocol_error only)."""
    before = wait_quiet(catalog_stack["admin"])
    reaction = exchange(catalog_stack["listeners"]["default"], send, lambda r: len(r.statuses) >= 1)
    after = wait_quiet(catalog_stack["admin"])
    assert reaction.statuses and reaction.statuses[0] // 100 == int(counter[-3])
    assert after.get(counter, 0) - before.get(counter, 0) == 1
