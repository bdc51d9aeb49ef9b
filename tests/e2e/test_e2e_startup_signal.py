"""A SIGTERM while `python -m proxy -c FILE` is still starting is a clean stop, not a kill.

Start-up (imports, loading and building the configuration) takes a second or more under load, and
supervisors stop what they just started (a rollout cancelled, a failed readiness check). Before,
the signal's default action ended the process (exit -15, 143 in a shell) in that time. Here the
start-up is held at a known point: the access log path is a FIFO, whose open for appending waits
for a reader (the proxy opens its access log files before it binds, proxy/serve.py).
"""

import os
import signal
import time

import pytest

HOLD_TIMEOUT_S = 10.0

CONFIG = """\
listeners:
  - name: web
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              access_log: {{path: {log}}}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: "/"}}
                        route: {{cluster: web}}
clusters:
  - name: web
    endpoints: [{{host: 127.0.0.1, port: 1}}]
"""


def _held_at_the_fifo(pid: int) -> bool:
    """The process sleeps in open(2) of the FIFO: nothing else in start-up waits on one."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip() in {"wait_for_partner", "fifo_open"}
    except OSError:
        return False


def _wait_until_held(proxy) -> None:
    deadline = time.monotonic() + HOLD_TIMEOUT_S
    while not _held_at_the_fifo(proxy.proc.pid):
        assert proxy.proc.poll() is None, "proxy exited:\n" + "".join(proxy.stderr_lines)
        if time.monotonic() > deadline:
            return  # no wchan on this kernel: the FIFO still holds it, the signal comes in start-up
        time.sleep(0.01)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_start_up_stops_the_proxy_cleanly(tmp_path, proxy_process, workers):
    log = tmp_path / "access.fifo"
    os.mkfifo(log)
    config = tmp_path / "proxy.yaml"
    config.write_text(CONFIG.format(log=log))
    proxy = proxy_process(config, "--concurrency", str(workers))
    _wait_until_held(proxy)
    proxy.signal(signal.SIGTERM)
    time.sleep(0.1)  # before: the default action has ended it by now
    reader = os.open(log, os.O_RDONLY | os.O_NONBLOCK)  # lets start-up go on
    try:
        code = proxy.wait()
    finally:
        os.close(reader)
    err = "".join(proxy.stderr_lines)
    assert code == 0, f"exit {code}:\n{err}"
    assert "proxy: stopped" in err and "Traceback" not in err
