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
    if concurrency > 1:
        return serve_workers(built, concurrency, drain_timeout_s)
    return asyncio.run(run_process(built, drain_timeout_s))
