"""Selective instrumentation: which modules get atheris's coverage counters, per harness.

    policy.py    instrumentation.toml read and checked: per harness, modules with a reason
    hook.py      counters on exactly the chosen modules (a meta-path finder rewriting their code)
    scan.py      what a harness imports and executes, measured in a fresh interpreter
    command.py   `python -m fuzz instrumentation scan|check|report` (make test runs `check`)

The engine (fuzz/harness.py) uses policy and hook when a harness starts; scan and command sit
above the engine and are imported by name, not from here, so this package imports nothing that
imports the engine.
"""

from fuzz.instrument.hook import ModuleCount, Report, installed
from fuzz.instrument.policy import POLICIES, HarnessPolicy, PolicyError, PolicyFile, load

__all__ = ["POLICIES", "HarnessPolicy", "ModuleCount", "PolicyError", "PolicyFile", "Report", "installed", "load"]
