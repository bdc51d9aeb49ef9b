"""`python -m proxy -c FILE [--concurrency N]`: build the configuration, then serve it in this
process (proxy/server.py) or in N worker processes (proxy/workers.py).

It sits above both: the runtime and the workers never import this module, so the dependency
runs one way (serve -> workers -> server)."""

import asyncio
import logging
import sys

from .build import BuildError, build
from .server import DRAIN_TIMEOUT_S, run_process
from .workers import serve_workers


def serve(bootstrap, *, concurrency: int = 1, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> int:
    """Serve a validated Bootstrap until SIGINT/SIGTERM; then drain and return 0.

    With `concurrency` > 1, that many worker processes serve the same listeners
    (proxy/workers.py). Returns 1, with the reason on stderr, when the configuration cannot be
    built or an address cannot be bound.
    """
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        built = build(bootstrap)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    unopenable = _unopenable_access_log(bootstrap)
    if unopenable is not None:
        print(f"error: {unopenable}", file=sys.stderr)
        return 1
    if concurrency > 1:
        return serve_workers(built, concurrency, drain_timeout_s)
    return asyncio.run(run_process(built, drain_timeout_s))


def _unopenable_access_log(bootstrap) -> str | None:
    """`path: reason` for the first file access log that cannot be opened for appending, else None.
    Envoy opens its access log files at startup and refuses a configuration whose file it cannot
    open; opened lazily, a mistyped directory served on and logged nothing, saying so only in a
    counter (filesystem.write_failed)."""
    for i, listener in enumerate(bootstrap.listeners):
        chains = [(f"filter_chains[{j}]", chain) for j, chain in enumerate(listener.filter_chains)]
        if listener.HasField("default_filter_chain"):
            chains.append(("default_filter_chain", listener.default_filter_chain))
        for chain_path, chain in chains:
            for k, network_filter in enumerate(chain.filters):
                if network_filter.WhichOneof("filter") != "http_connection_manager":
                    continue
                log = network_filter.http_connection_manager.access_log
                if log.WhichOneof("sink") != "path":
                    continue
                try:
                    open(log.path, "a", encoding="utf-8").close()  # as Envoy: created if absent
                except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
                    field = f"listeners[{i}].{chain_path}.filters[{k}].http_connection_manager.access_log.path"
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    return f"{field}: cannot open {log.path!r} for appending: {reason}"
    return None
