"""proxyfuzz's proxy core: an Envoy-style L4/L7 proxy whose protocol units are sans-IO.

Run it with `python -m proxy -c CONFIG`; check a configuration with `python -m proxy --validate CONFIG`.
In code (docs/architecture.md has the layers):

    bootstrap = proxy.load_file("examples/tcp_proxy.yaml")       # validated, or ConfigError
    built = proxy.build.build(bootstrap)                          # immutable, or BuildError
    ctx = proxy.instantiate(built, proxy.SimulatedDispatcher(), proxy.network.SimNetwork(...))
    server = proxy.Server(built); await server.start()           # or on real sockets

`build` and `serve` are modules of this package, so their entry points are `proxy.build.build`
and `proxy.serve.serve`. Names are imported on first use: `import proxy` imports nothing else.
"""

from proxy._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "load_file": "config.load",
        "load_bytes": "config.load",
        "ConfigError": "config.errors",
        "BuildError": "build_context",
        "BuiltConfig": "build",
        "instantiate": "build",
        "ServerContext": "context",
        "Dispatcher": "event",
        "SimulatedDispatcher": "event",
        "AsyncioDispatcher": "event",
        "Stats": "stats",
        "Server": "server",
    },
)
