"""--concurrency 2: a worker that dies (here SIGKILL, as the OOM killer sends) stops the other one and
the proxy exits 1 (README: "a worker that fails stops the others and the parent exits 1"), so a
supervisor such as systemd sees the failure and restarts the whole proxy instead of it serving on
with fewer workers."""

import os
import signal
import time

from _live import Proxy, Upstream, broken, check, echo, ok, tcp_config, wait_for

with Upstream(echo) as up, Proxy(tcp_config(up.port), args=("--concurrency", "2")) as proxy:
    pids = [
        int(line.rsplit(" ", 1)[1]) for line in proxy.lines if line.startswith("proxy: worker ") and " pid " in line
    ]
    if len(pids) != 2:
        broken(f"expected two worker pids in the status lines, got {pids}")
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: proxy.proc.poll() is not None, timeout=5.0)
    code = proxy.proc.poll()
    time.sleep(0.2)
    try:
        os.kill(pids[1], 0)
        other_alive = True
    except ProcessLookupError:
        other_alive = False
    if other_alive and code is None:
        os.kill(pids[1], signal.SIGKILL)  # do not leave it behind
check(
    code == 1 and not other_alive,
    f"5 s after worker 0 was killed the proxy's exit status is {code} and worker 1 is "
    f"{'still running' if other_alive else 'gone'}",
)
ok("the killed worker stopped the other one and the proxy exited 1")
