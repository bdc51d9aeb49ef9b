"""Raw bytes into load + validate + build, as YAML, JSON or binary protobuf.

Byte 0 picks how the rest is read (sniffed, YAML, JSON, binary). Oracles:
  * only ConfigError may escape loading (anything else is a crash);
  * an accepted configuration builds (a BuildError on a validated config is a validation gap)
    and instantiates: every listener accepts a connection in memory;
  * round trips: an accepted configuration re-serialised as binary protobuf and as JSON
    loads back to the same message.
"""

import json

from google.protobuf import json_format

from proxy.build import build, instantiate
from proxy.config import ConfigError, load_bytes
from proxy.event import SimulatedDispatcher
from proxy.network import sim

from fuzz.oracles import InvariantViolation

FORMATS = (None, "yaml", "json", "proto")


def run(data: bytes) -> None:
    fmt = FORMATS[data[0] % len(FORMATS)] if data else None
    try:
        boot = load_bytes(data[1:], fmt)
    except ConfigError:
        return
    _round_trip(boot)
    built = build(boot)
    dispatcher = SimulatedDispatcher()
    ctx = instantiate(built, dispatcher, sim.SimNetwork(dispatcher))
    for listener in built.listeners:
        sock = sim.SimSocket()
        listener.create_connection(ctx, sock, (listener.address[0], listener.address[1] or 10000), ("127.0.0.1", 40000))
        dispatcher.run_posted()


def _round_trip(boot) -> None:
    again = load_bytes(boot.SerializeToString(deterministic=True), "proto")
    if again != boot:
        raise InvariantViolation("config_proto_round_trip", "binary re-serialisation loads differently")
    as_json = json.dumps(json_format.MessageToDict(boot, preserving_proto_field_name=True))
    try:
        from_json = load_bytes(as_json.encode(), "json")
    except ConfigError as exc:
        raise InvariantViolation(
            "config_json_round_trip", f"an accepted config re-serialised as JSON is refused: {exc}"
        )
    if from_json != boot:
        raise InvariantViolation("config_json_round_trip", "JSON re-serialisation loads differently")
