"""--concurrency N: the parent's admin /ready says LIVE only once every worker is serving (README:
"/ready is LIVE once every worker is"), so a load balancer's readiness probe does not send traffic
to a proxy whose workers are still starting. In memory: the parent's admin (proxy/workers.py) over
two workers, of which one has said it is serving and the other has said nothing yet."""

import asyncio
from types import SimpleNamespace

from _live import check, guarded, ok

from proxy.workers import _Supervisor, _Worker, _WorkersAdmin

SERVING = {"id": None, "started": True, "draining": False, "counters": {}, "gauges": {}, "buffered_bytes": 0}


async def ask(target: str):
    workers = [_Worker(0, 1000, None), _Worker(1, 1001, None)]
    workers[0].last = dict(SERVING)  # worker 1 has not reported yet
    supervisor = _Supervisor(SimpleNamespace(listeners=(), clusters={}), workers)
    answer = _WorkersAdmin(supervisor).respond("GET", target)
    return await answer if asyncio.iscoroutine(answer) else answer


status, _, body = guarded(lambda: asyncio.run(ask("/ready")))
check(
    status == 503,
    f"/ready answered {status} {body.decode(errors='replace').strip()!r} while worker 1 of 2 had not started",
)
ok(f"/ready answered {status} {body.decode(errors='replace').strip()} until every worker is serving")
