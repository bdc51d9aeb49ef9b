"""python -m proxy -c CONFIG [--concurrency N] | --validate CONFIG

--validate prints OK (exit 0) or every violation on its own line, `path: message` (exit 1).
-c loads the configuration and serves it (proxy.serve.serve), in N worker processes with
--concurrency N (proxy/workers.py). Exit 2: usage or set-up problems.
"""

from proxy import startup_signals

if __name__ == "__main__":  # first: a SIGTERM during the imports below must not kill the proxy by the signal
    startup_signals.hold(startup_signals.AT_START)

import argparse  # noqa: E402
import sys  # noqa: E402

from proxy.config.errors import ConfigError, SchemaNotCompiled  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m proxy", description="An Envoy-style proxy core (proxyfuzz).")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("-c", "--config", metavar="FILE", help="load FILE and serve it")
    group.add_argument(
        "--validate", metavar="FILE", help="validate FILE: print OK, or every violation with its field path"
    )
    parser.add_argument(
        "--format", choices=("yaml", "json", "proto"), help="input format (default: from the extension, else sniffed)"
    )
    parser.add_argument(
        "--concurrency",
        metavar="N",
        type=_positive_int,
        default=1,
        help="worker processes serving the listeners (default 1: one process); "
        "the parent binds them, serves the admin with the workers' stats "
        "summed, and forwards signals",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _load(path, fmt):
    """(bootstrap, exit code); prints the problems itself."""
    try:
        # lazy: before `make setup` compiled the schema, importing the loader raises SchemaNotCompiled
        from proxy.config.load import load_file

        return load_file(path, fmt), 0
    except SchemaNotCompiled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, 2
    except ConfigError as exc:
        for violation in exc.violations:
            print(violation)
        return None, 1


def _validate_build(bootstrap) -> int:
    """The rules and semantic checks passed; the configuration must also build, as `-c` builds it
    before it binds a socket (Envoy's validate mode instantiates the whole configuration): a
    configuration --validate calls OK never fails to start for a reason it could have named."""
    from proxy.build import build  # lazy: as _load
    from proxy.build_context import BuildError

    try:
        build(bootstrap)
    except BuildError as exc:
        print(f"{exc.path}: {exc.message}")
        return 1
    print("OK")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if not args.config:
        startup_signals.release()  # nothing to stop cleanly: --validate ends as a signal says
    path = args.validate or args.config
    bootstrap, status = _load(path, args.format)
    if bootstrap is None:
        return status
    if args.validate:
        return _validate_build(bootstrap)
    from proxy.serve import serve  # lazy: the runtime imports the schema too (see _load)

    return serve(bootstrap, concurrency=args.concurrency) or 0


if __name__ == "__main__":
    sys.exit(main())
