"""`python -m fuzz COMMAND ...`: a table of commands, each loaded only when used.

A command is a function `main(argv: list[str]) -> int` named here as "module:function".
Adding one is one line in COMMANDS.
"""

import importlib
import sys

COMMANDS = {
    "list": "fuzz.cli:cmd_list",
    "run": "fuzz.runner:cmd_run",
    "merge": "fuzz.runner:cmd_merge",
    "startup-seeds": "fuzz.runner:cmd_startup_seeds",
    "replay": "fuzz.replay:main",
    "coverage": "fuzz.coverage:main",
    "fuzz-all": "fuzz.runner:cmd_fuzz_all",
    "instrumentation": "fuzz.instrument.command:main",
    "bench": "fuzz.bench:main",
    "triage": "fuzz.triage:main",
    "ci": "fuzz.ci:main",
    "oss-fuzz-run": "fuzz.oss_fuzz_run:main",
    "gen-configs": "fuzz.configgen.generate:gen_configs",
    "recut-bugs": "fuzz.bench.bugs.recut:main",
}

USAGE = "usage: python -m fuzz COMMAND [ARGS...]   (python -m fuzz COMMAND --help for one command)"


def run_command(name: str, argv: list[str]) -> int:
    module_name, func_name = COMMANDS[name].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return func(argv) or 0


def main(argv: list[str] | None = None) -> int:
    from fuzz.instrument.policy import PolicyError
    from fuzz.harness import HarnessError

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE + "\n\ncommands:\n" + "\n".join(f"  {name}" for name in COMMANDS))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}'; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return run_command(name, rest)
    except (HarnessError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_list(argv: list[str]) -> int:
    """Every harness: target, corpus size, dictionary, options, instrumentation policy."""
    import argparse
    from fuzz.instrument import policy as policies
    from fuzz.harness import add_layout_arguments, discover, layout_from_args

    parser = argparse.ArgumentParser(prog="python -m fuzz list", description=cmd_list.__doc__)
    add_layout_arguments(parser)
    layout = layout_from_args(parser.parse_args(argv))
    specs = discover(layout)
    if not specs:
        print(f"no harnesses in {layout.harnesses}")
        return 0
    pf = policies.load(layout.policy_file) if layout.policy_file.is_file() else None
    for spec in specs:
        rel = lambda p: str(p.relative_to(layout.root)) if p and p.is_relative_to(layout.root) else str(p)  # noqa: E731
        options = spec.options()
        if pf is None:
            policy = f"no policy file ({rel(layout.policy_file)})"
        else:
            hp = pf.for_harness(spec.name)
            policy = (
                f"{pf.default_policy}: {len(hp.modules)} module entries"
                + (f", {len(hp.exclude)} excluded" if hp.exclude else "")
                if hp.has_section
                else f"{pf.default_policy}: no [harness.{spec.name}] section"
            )
        print(
            f"{spec.name}\n"
            f"  target:     {spec.target}\n"
            f"  file:       {rel(spec.path)}\n"
            f"  corpus:     {len(spec.seed_files())} files in {rel(spec.seeds)}\n"
            f"  dictionary: {rel(spec.dictionary) if spec.dictionary else 'none'}\n"
            f"  options:    {' '.join(f'{k}={v}' for k, v in options.items()) or 'none'}\n"
            f"  policy:     {policy}"
        )
    return 0
