"""Stage 1 of two-stage fuzzing: valid configurations, generated from the schema and its rules.

    from fuzz import configgen
    configgen.bootstraps()               -> hypothesis strategy of valid Bootstrap messages
    configgen.config_from_bytes(data)    -> Bootstrap: any bytes map to a valid config (cached)
    configgen.pool(n, seed)              -> n Bootstraps, deterministic, every one validated and built
    configgen.fragment_generator(desc)   -> generator of one message type drawn alone (a filter's config)
    configgen.to_yaml(bootstrap)         -> readable YAML that `python -m proxy --validate` accepts

    python -m fuzz gen-configs N --out DIR [--seed S] [--for-sessions | --forwarding | --identities]
                                                  (also: python -m fuzz.configgen gen-configs ...)

How: strategies are derived by walking the protobuf descriptors and reading their
protoc-gen-validate rules (fuzz/configgen/_messages.py, _scalars.py); then a repair pass
makes the cross-field facts hold that rules cannot state (fuzz/configgen/_facts.py lists them as
data, fuzz/configgen/_repair.py applies them). All bounds live in fuzz/configgen/_bounds.py. Values
and weights are chosen for data-plane sessions (fuzz/configgen/_formats.py: domains, paths and
header fields that requests carry; _facts.py: routes that forward, few chain criteria), and
--for-sessions keeps only configurations sessions reach (fuzz/pool_reach.py).

Bytes map to configurations the way `hypothesis`'s `fuzz_one_input` maps them (it is what runs
here), so the mapping depends on the Hypothesis version: requirements.txt pins it. Regenerate the
committed pool after changing the schema, the bounds or the facts:

    python -m fuzz gen-configs 27 --out corpus/session_configs --seed 1 --for-sessions
    python -m fuzz gen-configs 8 --out corpus/session_configs --seed 2 --for-sessions
    python -m fuzz gen-configs 11 --out corpus/session_configs --seed 3 --for-sessions

(README.md "Configuration" says how the session seeds follow.) The pool's forwarding family
(fuzz/configgen/forwarding.py: every route forwards) is drawn apart and comes last in the pool:

    python -m fuzz gen-configs 20 --out corpus/session_configs/forwarding --seed 1 --forwarding

and the TLS identity family (fuzz/configgen/identities.py: mTLS chains, RBAC principals, SAN lists
and version caps drawn from the test PKI's names) after it:

    python -m fuzz gen-configs 24 --out corpus/session_configs/identities --seed 1 --identities
"""

from fuzz.configgen.generate import (
    bootstraps,
    Bounds,
    BytesToValue,
    config_from_bytes,
    ConfigGenerator,
    DEFAULT_BOUNDS,
    default_generator,
    fragment_generator,
    GenerationImpossible,
    naive_bootstraps,
    pool,
    to_yaml,
    write_configs,
)

__all__ = [
    "bootstraps",
    "Bounds",
    "BytesToValue",
    "config_from_bytes",
    "ConfigGenerator",
    "DEFAULT_BOUNDS",
    "default_generator",
    "fragment_generator",
    "GenerationImpossible",
    "naive_bootstraps",
    "pool",
    "to_yaml",
    "write_configs",
]
