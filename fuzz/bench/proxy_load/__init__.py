"""`python -m fuzz bench proxy`: the proxy under real load generators beside nginx and mitmproxy
(command.py), with the processes it starts (procs.py), their configurations (configs.py), the
load generators' reports read (parse.py) and py-spy profiles summarised (profile.py).

Named proxy_load, not proxy: a module fuzz.bench.proxy read as the `proxy` package to people and
tools alike."""

from fuzz.bench.proxy_load.command import main

__all__ = ["main"]
