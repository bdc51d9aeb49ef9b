"""Raw bytes into parse + validate (load_bytes' two steps) + build, as YAML, JSON or binary protobuf.

Byte 0 picks how the rest is read (sniffed, YAML, JSON, binary). Oracles:
  * every parsed configuration gets protoc-gen-validate's verdict from our rule interpreter
    (fuzz/targets/pgv_reference.py, config_rules_differ_from_pgv): a valid one is never refused;
  * only ConfigError may escape loading (anything else is a crash);
  * a parsed configuration carries no field the schema does not know, at any depth (protobuf's own
    DiscardUnknownFields is the reference): Envoy refuses a static configuration with unknown
    fields rather than serve without the setting written (config_unknown_field_accepted);
  * an accepted configuration builds (a BuildError on a validated config is a validation gap)
    and instantiates: every listener accepts a connection in memory;
  * every chain it serves, the default one included, ends with exactly one terminal filter, as
    bootstrap.proto and Envoy require (fuzz/targets/config_chains.py);
  * the built listeners and clusters hold the configured values, the documented default for an
    unset `optional` field and zero for an explicit zero (config_built_values.py);
  * round trips: an accepted configuration re-serialised as binary protobuf and as JSON
    loads back to the same message;
  * it can be served as configured (fuzz/targets/config_serving.py): its listeners can all bind,
    and each TLS chain or cluster negotiates a version within its tls_params;
  * each TLS cluster with a validation_context connects to the sessions' upstream (the test PKI's
    server certificate) exactly when its trusted_ca and match_subject_alt_names accept that
    certificate, a wildcard standing for one label (fuzz/targets/config_upstream_identity.py);
  * the admin's /config_dump of a built configuration shows no TLS private key: every
    `private_key` in it (listener chains, the default chain, clusters) reads "[redacted]", as
    Envoy's dump redacts its sensitive fields (config_dump_leaks_secret; found black-box).
"""

import json
from types import SimpleNamespace

from google.protobuf import json_format

from proxy.admin import AdminHandler
from proxy.build import build, instantiate
from proxy.config import ConfigError, load, parse_bytes
from proxy.event import SimulatedDispatcher
from proxy.network import sim

from fuzz import test_pki
from fuzz.oracles import InvariantViolation
from fuzz.targets import config_built_values, config_chains, config_serving, config_upstream_identity, pgv_reference

FORMATS = (None, "yaml", "json", "proto")


def run(data: bytes) -> None:
    fmt = FORMATS[data[0] % len(FORMATS)] if data else None
    text = data[1:] if fmt == "proto" else test_pki.read_as_moved(data[1:])  # seeds name the default PKI
    try:
        boot = parse_bytes(text, fmt)
    except ConfigError:
        return
    _no_unknown_fields(boot)
    violations = load.all_violations(boot)
    # Our rule violations are a part of load's list: when it is empty, so are they (not computed again).
    pgv_reference.check(boot, rule_violations=None if violations else [])
    if violations:
        return  # refused: load_bytes raises ConfigError naming each violation
    _round_trip(boot)
    built = build(boot)
    config_built_values.check(boot, built)
    config_chains.check(built)
    config_serving.check_binding(boot)
    config_serving.check_tls_versions(boot, built)
    config_upstream_identity.check(boot, built)
    _dump_keeps_secrets(built)
    dispatcher = SimulatedDispatcher()
    ctx = instantiate(built, dispatcher, sim.SimNetwork(dispatcher))
    for listener in built.listeners:
        sock = sim.SimSocket()
        listener.create_connection(ctx, sock, (listener.address[0], listener.address[1] or 10000), ("127.0.0.1", 40000))
        dispatcher.run_posted()


def _no_unknown_fields(boot) -> None:
    known = type(boot)()
    known.CopyFrom(boot)
    known.DiscardUnknownFields()  # recursive: every nested message, lists and maps included
    if known.SerializeToString(deterministic=True) != boot.SerializeToString(deterministic=True):
        raise InvariantViolation(
            "config_unknown_field_accepted",
            "a configuration with a field the schema does not know was parsed without a violation",
            judged="proxy.config.load.parse_bytes",
        )


def _round_trip(boot) -> None:
    """Each re-serialisation must parse back to an equal message. Validation is not run again on
    it: it is a function of the message alone, so an equal message validates as `boot` did (running
    it twice more cost half the harness's time, the TLS material of every context loaded each time)."""
    again = parse_bytes(boot.SerializeToString(deterministic=True), "proto")
    if again != boot:
        raise InvariantViolation("config_proto_round_trip", "binary re-serialisation loads differently")
    as_json = json.dumps(json_format.MessageToDict(boot, preserving_proto_field_name=True))
    try:
        from_json = parse_bytes(as_json.encode(), "json")
    except ConfigError as exc:
        raise InvariantViolation(
            "config_json_round_trip", f"an accepted config re-serialised as JSON is refused: {exc}"
        )
    if from_json != boot:
        raise InvariantViolation("config_json_round_trip", "JSON re-serialisation loads differently")


def _private_keys(dump: dict) -> list:
    """Every TLS certificate's private_key in a dumped Bootstrap, by the schema's paths."""
    contexts = [c.get("tls_context") for c in dump.get("clusters", [])]
    for listener in dump.get("listeners", []):
        chains = listener.get("filter_chains", []) + [listener.get("default_filter_chain", {})]
        contexts += [chain.get("tls_context") for chain in chains]
    certificates = [
        cert for ctx in contexts if ctx for cert in ctx.get("common_tls_context", {}).get("tls_certificates", [])
    ]
    return [cert["private_key"] for cert in certificates if "private_key" in cert]


def _dump_keeps_secrets(built) -> None:
    status, _, body = AdminHandler(SimpleNamespace(built=built)).respond("GET", "/config_dump")
    if status != 200:
        raise InvariantViolation("config_dump_failed", f"/config_dump of a built configuration answered {status}")
    for key in _private_keys(json.loads(body)):
        shown = {v for v in key.values() if v != "[redacted]"}
        if shown:
            raise InvariantViolation(
                "config_dump_leaks_secret", f"/config_dump shows a private_key as {sorted(shown)[0][:40]!r}..."
            )
