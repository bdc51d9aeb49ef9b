"""Action scripts (session, network_filter, http_filter), mutated one action at a time.

An input is a head (configuration choice, modes) and actions. Each harness's own decoder and its
exact inverse encoder (`fuzz.session.decode_actions` / `encode_actions`, `fuzz.targets.http_filter`'s
pair) do all the reading and writing, so this module knows no operand layout: a new op, or a new
operand layout, is mutated without a change here. What it needs of an action it learns through the
pair:
- a new action of any op: a random op byte and random operand bytes, decoded;
- "change one field": the action encoded alone, one byte after its op byte changed, decoded again;
- whether an op carries a payload, and how long it may be: the longest payload that survives
  encode -> decode unchanged (found by bisection, cached per op).
Mutated actions are always kept in the form decode(encode(actions)) == actions.

Operations: insert, delete, duplicate, swap, move, retarget, change one field, change the op,
mutate a payload at its protocol's level (HTTP/1.1, HTTP/2, else bytes) or give it a new one,
change the head; for session actions (session, network_filter) also a whole scenario, its ops in
the order of an exchange (scenarios.py), and a hostile shape for a request (shapes.py: a share of the
scenarios' requests carry one too); crossover splices actions of another input in.
"""

import functools
import random
from dataclasses import replace

from fuzz.mutators import http1, http2, scenarios, shapes
from fuzz.mutators.base import Mutator, apply_ops, drop_one, move_one, swap_two

SEED_CAPACITY = 256  # payloads shorter than this are seeds of a template, not protocol bytes
SEEDED_OPERANDS = 96  # operand bytes a scenario's long action is decoded from (a template seed <= 64)


class ActionCodec:
    """One harness's input layout: head bytes, then actions its decoder reads."""

    max_actions = 255

    def split(self, data: bytes) -> tuple[bytes, list]:
        raise NotImplementedError

    def join(self, head: bytes, actions: list) -> bytes:
        return head + self.encode(actions)

    def decode(self, fragment: bytes) -> list:
        raise NotImplementedError

    def encode(self, actions: list) -> bytes:
        raise NotImplementedError

    def op_of(self, action):
        return action.op

    def payload(self, action) -> bytes:
        return action.payload

    def with_payload(self, action, payload: bytes):
        return replace(action, payload=payload)

    def target(self, action) -> int | None:
        return getattr(action, "target", None)

    def with_target(self, action, target: int):
        return replace(action, target=target)

    def head_ops(self) -> dict:
        """kind -> (weight, fn(head: bytes, rng, mutator) -> new head or None)."""
        return {}

    scenarios = False  # True: its actions are the session grammar's, and action_of draws them

    def action_of(self, op: str, rng: random.Random):
        return None

    def forwarding_head(self, head: bytes, rng: random.Random) -> bytes | None:
        """`head` naming an entry of the session pool's forwarding family (None: no such choice)."""
        return None

    def identity_head(self, head: bytes, rng: random.Random) -> bytes | None:
        """`head` naming an entry of the session pool's TLS identity family (None: no such choice)."""
        return None

    def tls_client(self, rng: random.Random):
        """An action opening a TLS client with a drawn certificate, ALPN and SNI (None: no such op)."""
        return None


def _byte_at(index: int):
    """A head operation: byte `index` of the head drawn afresh."""

    def op(head: bytes, rng, mutator):
        head = head.ljust(index + 1, b"\0")
        return head[:index] + bytes([rng.randrange(256)]) + head[index + 1 :]

    return op


class SessionCodec(ActionCodec):
    """fuzz/session.py: byte 0 the configuration, byte 1 the read size, then actions (the
    decoder's implicit first connect is not part of the list)."""

    def __init__(self) -> None:
        from fuzz import session

        self.session = session
        self.max_actions = session.MAX_ACTIONS - 1

    def split(self, data):
        return data[:2].ljust(2, b"\0"), self.decode(data[2:])

    def decode(self, fragment):
        return self.session.decode_actions(self.session.Reader(fragment))[1:]

    def encode(self, actions):
        return self.session.encode_actions(actions)[2:]

    def head_ops(self):
        return {"config": (2, _byte_at(0)), "read_size": (1, _byte_at(1))}

    @functools.cached_property
    def _families(self) -> dict:
        """Pool positions of each family (fuzz.session.FAMILY_DIRS), read from the file names alone:
        the mutator builds no configuration."""
        from pathlib import Path

        paths = self.session.pool_paths(Path(self.session.__file__).resolve().parent.parent)
        found: dict = {d: [] for d in self.session.FAMILY_DIRS}
        for i, p in enumerate(paths[:256]):
            family = self.session.family_of(p)
            if family is not None:
                found[family].append(i)
        return found

    @property
    def _forwarding(self) -> list:
        return self._families[self.session.FORWARDING_DIR]

    def _family_head(self, family: str, head: bytes, rng) -> bytes | None:
        positions = self._families[family]
        return bytes([rng.choice(positions)]) + head[1:] if positions else None

    def forwarding_head(self, head, rng):
        return self._family_head(self.session.FORWARDING_DIR, head, rng)

    def identity_head(self, head, rng):
        return self._family_head(self.session.IDENTITIES_DIR, head, rng)

    def tls_client(self, rng):
        """connect_tls on a drawn listener and server name, TLS on, ALPN, certificate (none, the
        test CA's, an untrusted CA's, the CN-only one) and SNI drawn (fuzz/tls_session.py's mode)."""
        from fuzz.tls_session import CERTIFICATES, client_mode

        mode = client_mode(rng.randrange(4), rng.randrange(len(CERTIFICATES)), rng.random() < 0.7)
        op = self.session.OPS.index("connect_tls")
        decoded = self.decode(bytes([op, rng.randrange(256), rng.randrange(256), mode]))
        return decoded[0] if decoded and decoded[0].op == "connect_tls" else None

    scenarios = True

    def action_of(self, op: str, rng: random.Random):
        """An action of `op` with operands drawn at random as the decoder reads them (scenarios.py);
        a read takes everything there is more often than not. Half the time the decoder gets enough
        bytes for a payload as long as an op carries (SEEDED_OPERANDS): 8 bytes leave a template's
        seed 4 bytes at most, and its later bytes choose a request's body, framing, route fields,
        hostile shape and streaming upload, a response's trailers and sizes; such an action ends its
        stream one time in five (a request that half-closes its connection, a response its close)."""
        if op not in self.session.OPS:
            return None
        long = rng.random() < 0.5
        operands = rng.randbytes(SEEDED_OPERANDS if long else 8)
        decoded = self.decode(bytes([self.session.OPS.index(op)]) + operands)
        if not decoded or decoded[0].op != op:
            return None
        action = decoded[0]
        if long:
            action = replace(action, end_stream=action.end_stream and rng.random() < 0.4)
        return replace(action, value=0) if op.endswith("read") and rng.random() < 0.6 else action


def _blob_head(data: bytes, tail: int) -> tuple[bytes, bytes]:
    """(head, rest) of an input that starts with a filter index byte, a 2-byte length L, L bytes
    of configuration and `tail` more head bytes, read the way the uber-filter harnesses read it
    (fuzz/targets/network_filter.run, fuzz/targets/http_filter.run: the length modulo 4096)."""
    from fuzz.session import Reader

    r = Reader(data)
    r.int(1, 256)
    r.bytes(r.int(2, 4096))
    r.bytes(tail)
    end = min(r.pos, len(data))
    return data[:end].ljust(r.pos, b"\0"), data[end:]


def _blob_ops(tail: int, filters: "_Filters") -> dict:
    """Head operations of the uber-filter layouts: another filter, another configuration (byte
    mutations of the serialized message, with its length kept right, or a fresh valid one drawn
    from the schema's rules and the session formats by fuzz/configgen/), other mode bytes."""

    def config_bytes(head: bytes, rng, mutator):
        return _with_blob(head, mutator.byte_mutate(head[3 : len(head) - tail], 4095, rng)[:4095], tail)

    def config_new(head: bytes, rng, mutator):
        names = filters.names()
        index = head[0] if rng.random() < 0.7 else rng.randrange(256)
        generator = _config_generator(filters.message(), names[index % len(names)])
        blob = generator.from_bytes(rng.randbytes(256)).SerializeToString(deterministic=True)
        return bytes([index]) + _with_blob(head, blob, tail)[1:]

    def config_field(head: bytes, rng, mutator):
        """One field of the configuration edited through the schema (fuzz/mutators/config.py)."""
        from fuzz.mutators import config

        names = filters.names()
        field = filters.message().DESCRIPTOR.fields_by_name[names[head[0] % len(names)]]
        message = _config_generator(filters.message(), field.name)._class()
        try:
            message.ParseFromString(head[3 : len(head) - tail])
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: bytes, not a message
            return None
        if not config.edit(message, rng):
            return None
        return _with_blob(head, message.SerializeToString()[:4095], tail)

    def mode(head: bytes, rng, mutator):
        i = len(head) - 1 - rng.randrange(tail)
        return head[:i] + bytes([rng.randrange(256)]) + head[i + 1 :]

    return {
        "filter": (2, _byte_at(0)),
        "config_bytes": (2, config_bytes),
        "config_new": (2, config_new),
        "config_field": (2, config_field),
        "mode": (2, mode),
    }


def _with_blob(head: bytes, blob: bytes, tail: int) -> bytes:
    return head[:1] + len(blob).to_bytes(2, "big") + blob + head[len(head) - tail :]


@functools.lru_cache(maxsize=None)
def _config_generator(container, name: str):
    from fuzz.configgen import fragment_generator

    return fragment_generator(container.DESCRIPTOR.fields_by_name[name].message_type)


class _Filters:
    """A harness's filter list (its module's filter_names(), the order byte 0 indexes) and the
    schema message whose fields configure them."""

    def __init__(self, module: str, message: str) -> None:
        self.module, self.message_name = module, message

    def names(self) -> list:
        import importlib

        return importlib.import_module(self.module).filter_names()

    def message(self):
        from proxy.config import schema

        return getattr(schema, self.message_name)


class NetworkFilterCodec(SessionCodec):
    """fuzz/targets/network_filter.py: filter, configuration, probe mode byte, session actions."""

    def split(self, data):
        head, rest = _blob_head(data, 1)
        return head, self.decode(rest)

    def head_ops(self):
        return _blob_ops(1, _Filters("fuzz.targets.network_filter", "NetworkFilter"))

    def forwarding_head(self, head, rng):
        return None  # byte 0 is the filter here: the configuration is the head's blob

    def identity_head(self, head, rng):
        return None


class HttpFilterCodec(ActionCodec):
    """fuzz/targets/http_filter.py: filter, configuration, layout, seed and 4 script bytes, then
    (op, argument, payload, end) tuples."""

    def __init__(self) -> None:
        from fuzz.session import Reader
        from fuzz.targets import http_filter

        self.target_module, self.reader = http_filter, Reader
        self.max_actions = http_filter.MAX_ACTIONS

    def split(self, data):
        head, rest = _blob_head(data, 6)
        return head, self.decode(rest)

    def decode(self, fragment):
        return self.target_module.decode_actions(self.reader(fragment))

    def encode(self, actions):
        return self.target_module.encode_actions(actions)

    def op_of(self, action):
        return action[0]

    def payload(self, action):
        return action[2]

    def with_payload(self, action, payload):
        return action[:2] + (payload,) + action[3:]

    def target(self, action):
        return None

    def head_ops(self):
        return _blob_ops(6, _Filters("fuzz.targets.http_filter", "HttpFilter"))


# ------------------------------------------------------------------------------------- the mutator
class Actions(Mutator):
    name = "actions"

    def __init__(self, codec: ActionCodec, byte_mutate=None) -> None:
        super().__init__(byte_mutate)
        self.codec = codec
        self.h1_requests = http1.Http1(byte_mutate)
        self.h1_responses = http1.Http1(byte_mutate, response=True)
        self.h2 = http2.Http2(byte_mutate)
        self._capacity: dict = {}
        self.ops = {
            "insert": (5, self.insert),
            "delete": (3, lambda state, rng: drop_one(state[1], rng)),
            "duplicate": (3, self.duplicate),
            "swap": (2, lambda state, rng: swap_two(state[1], rng)),
            "move": (1, lambda state, rng: move_one(state[1], rng)),
            "retarget": (2, self.retarget),
            "field": (5, self.field),
            "op": (1, self.change_op),
            "payload": (5, self.payload),
            "payload_new": (2, self.payload_new),
            "payload_size": (2, self.payload_size),
        }
        if codec.scenarios:  # session actions: whole scenarios (scenarios.py), hostile request shapes (shapes.py)
            self.ops["scenario"] = (8, self.scenario)
            self.ops["shape"] = (6, self.shape)
        for kind, (weight, fn) in codec.head_ops().items():
            self.ops[f"head_{kind}"] = (weight, self._head_op(fn))

    # --------------------------------------------------------------------- layout, learned
    def carrying(self, action, payload: bytes):
        """`action` with `payload`, as its decoder reads it back, or None when the payload does not
        come back whole."""
        again = self.normalised(self.codec.with_payload(action, payload))
        return again if again is not None and self.codec.payload(again) == payload else None

    def capacity(self, action) -> int:
        """The longest payload this action's op carries through encode -> decode (0: none)."""
        op = self.codec.op_of(action)
        if op not in self._capacity:
            fits = lambda n: self.carrying(action, b"\x01" * n) is not None  # noqa: E731
            lo, hi = 0, 1 << 16
            if fits(hi):
                lo = hi
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
            self._capacity[op] = lo
        return self._capacity[op]

    def normalised(self, action):
        """The action as its decoder reads it back (or None when it does not survive alone)."""
        try:
            again = self.codec.decode(self.codec.encode([action]))
        except (ValueError, OverflowError, IndexError, TypeError):
            return None
        return again[0] if len(again) == 1 else None

    def fitted(self, action, payload: bytes):
        """`action` carrying `payload`, cut to what its op can carry."""
        return self.carrying(action, payload[: self.capacity(action)])

    def random_action(self, rng: random.Random):
        fragment = bytes(rng.randrange(256) for _ in range(6 + rng.randrange(10)))
        decoded = self.codec.decode(fragment)
        if not decoded:
            return None
        action = decoded[0]
        if self.capacity(action) and rng.random() < 0.8:
            action = self.fitted(action, self.new_payload(action, rng)) or action
        return action

    # --------------------------------------------------------------------- payloads
    def _upstream(self, action) -> bool:
        return "upstream" in str(self.codec.op_of(action))

    def new_payload(self, action, rng: random.Random) -> bytes:
        if self.capacity(action) < SEED_CAPACITY:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(self.capacity(action) + 1)))
        if self._upstream(action):
            return http1.template(rng, response=True).raw()
        choice = rng.random()
        if choice < 0.7:
            return b"".join(http1.template(rng).raw() for _ in range(1 + (rng.random() < 0.3)))
        if choice < 0.9:
            return http2.new_capture(rng).raw()
        return bytes(rng.randrange(256) for _ in range(rng.randrange(32)))

    def mutate_payload(self, action, rng: random.Random) -> bytes:
        """The payload mutated at its protocol's level when it has one, else as bytes."""
        payload, result = self.codec.payload(action), None
        if self.capacity(action) >= SEED_CAPACITY:
            if payload.startswith(http2.PREFACE):
                result = self.h2.mutate_capture(payload, rng)
            elif payload[:1].isalpha() and b"HTTP/" in payload.split(b"\n", 1)[0]:
                mutator = self.h1_responses if self._upstream(action) else self.h1_requests
                result = mutator.mutate_stream(payload, rng)
        if result is None:
            return self.byte_mutate(payload, self.capacity(action), rng)
        return result[1]

    # --------------------------------------------------------------------- operations
    def insert(self, state, rng) -> bool:
        head, actions = state
        if len(actions) >= self.codec.max_actions:
            return False
        action = self.random_action(rng)
        if action is None:
            return False
        actions.insert(rng.randrange(len(actions) + 1), action)
        return True

    def duplicate(self, state, rng) -> bool:
        actions = state[1]
        if not actions or len(actions) >= self.codec.max_actions:
            return False
        i = rng.randrange(len(actions))
        n = 1 + rng.randrange(min(4, len(actions) - i))
        at = i + n if rng.random() < 0.5 else rng.randrange(len(actions) + 1)
        actions[at:at] = actions[i : i + n][: self.codec.max_actions - len(actions)]
        return True

    def retarget(self, state, rng) -> bool:
        actions = state[1]
        candidates = [i for i, a in enumerate(actions) if self.codec.target(a) is not None]
        if not candidates:
            return False
        i = rng.choice(candidates)
        current = self.codec.target(actions[i])
        assert current is not None, "a candidate has a target"
        targets = {t for a in actions if (t := self.codec.target(a)) is not None}
        new = self.normalised(
            self.codec.with_target(actions[i], rng.choice(sorted(targets | {0, 1, current + 1, max(0, current - 1)})))
        )
        if new is None or new == actions[i]:
            return False
        actions[i] = new
        return True

    def _recode(self, state, rng, first: bool) -> bool:
        actions = state[1]
        if not actions:
            return False
        i = rng.randrange(len(actions))
        encoded = bytearray(self.codec.encode([actions[i]]))
        if not encoded or (not first and len(encoded) < 2):
            return False
        at = 0 if first else 1 + rng.randrange(len(encoded) - 1)
        encoded[at] = rng.choice((rng.randrange(256), (encoded[at] + 1) % 256, (encoded[at] - 1) % 256, 0, 255))
        new = self.codec.decode(bytes(encoded))
        if new == actions[i : i + 1]:
            return False
        actions[i : i + 1] = new[: max(1, self.codec.max_actions - len(actions) + 1)]
        return True

    def field(self, state, rng) -> bool:
        return self._recode(state, rng, first=False)

    def change_op(self, state, rng) -> bool:
        return self._recode(state, rng, first=True)

    def _with_payload(self, state, rng, make) -> bool:
        actions = state[1]
        candidates = [i for i, a in enumerate(actions) if self.capacity(a)]
        if not candidates:
            return False
        i = rng.choice(candidates)
        new = self.fitted(actions[i], make(actions[i], rng))
        if new is None or new == actions[i]:
            return False
        actions[i] = new
        return True

    def payload(self, state, rng) -> bool:
        return self._with_payload(state, rng, self.mutate_payload)

    def payload_new(self, state, rng) -> bool:
        return self._with_payload(state, rng, self.new_payload)

    def payload_size(self, state, rng) -> bool:
        """A payload repeated or cut to a size that matters for buffers: the op's largest, half of
        it, one byte, double."""

        def resize(action, rng):
            payload = self.codec.payload(action) or b"x"
            n = rng.choice(
                (
                    self.capacity(action),
                    self.capacity(action) // 2,
                    1,
                    2 * len(payload),
                    rng.randrange(self.capacity(action) + 1),
                )
            )
            return (payload * (n // len(payload) + 1))[:n]

        return self._with_payload(state, rng, resize)

    def scenario(self, state, rng) -> bool:
        """A whole scenario (fuzz/mutators/scenarios.py) first, mostly (the input's own actions run
        after it), or somewhere in the input, or instead of its actions."""
        family = rng.random()  # one draw: the forwarding family's scenarios are those drawn before IDENTIFIED
        forwarded = self.codec.forwarding_head(state[0], rng) if family < scenarios.FORWARDED else None
        identified = None
        if scenarios.FORWARDED <= family < scenarios.FORWARDED + scenarios.IDENTIFIED:
            identified = self.codec.identity_head(state[0], rng)
        opener = self.codec.tls_client if identified is not None else None
        made = scenarios.scenario(
            rng, self._scenario_action, self._aimed, forwarded=forwarded is not None, opener=opener
        )
        if not made:
            return False
        state[0] = forwarded or identified or state[0]
        actions, where = state[1], rng.random()
        if where < 0.6:
            actions[:0] = made
        elif where < 0.8:
            i = rng.randrange(len(actions) + 1)
            actions[i:i] = made
        else:
            actions[:] = made
        del actions[self.codec.max_actions :]
        return True

    def shape(self, state, rng) -> bool:
        """One request of the input given a hostile shape (shapes.py)."""
        actions = state[1]
        candidates = [i for i, a in enumerate(actions) if shapes.positions(a)]
        if not candidates:
            return False
        i = rng.choice(candidates)
        new = self.normalised(shapes.shape(actions[i], rng))
        if new is None or new == actions[i]:
            return False
        actions[i] = new
        return True

    def _scenario_action(self, op: str, rng: random.Random):
        action = self.codec.action_of(op, rng)
        if action is not None and self.capacity(action) and rng.random() < 0.8:
            action = self.fitted(action, self.new_payload(action, rng)) or action
        if action is not None and shapes.positions(action) and rng.random() < shapes.SHAPED:
            action = self.normalised(shapes.shape(action, rng)) or action
        if action is not None and action.op == "upstream_http" and rng.random() < shapes.STREAMS:
            action = self.normalised(shapes.streamed(action)) or action
        return action

    def _aimed(self, action, target: int):
        return self.normalised(self.codec.with_target(action, target)) or action

    def _head_op(self, fn):
        def op(state, rng) -> bool:
            new = fn(state[0], rng, self)
            if new is None or new == state[0]:
                return False
            state[0] = new
            return True

        return op

    # --------------------------------------------------------------------- entry points
    def structured(self, data, max_size, rng):
        head, actions = self.codec.split(data)
        state = [head, actions]
        kinds = apply_ops(self.ops, state, rng, "actions")
        if not kinds:
            return None
        out = self.codec.join(state[0], state[1])
        while len(out) > max_size and state[1]:  # too long: drop actions from the end
            state[1].pop()
            out = self.codec.join(state[0], state[1])
        return kinds, out

    def splice(self, data1, data2, max_size, rng):
        head, actions = self.codec.split(data1)
        _, donor = self.codec.split(data2)
        if not donor:
            return None
        j = rng.randrange(len(donor))
        piece = donor[j : j + 1 + rng.randrange(min(8, len(donor) - j))]
        i = rng.randrange(len(actions) + 1)
        if rng.random() < 0.5:
            actions[i:i] = piece  # splice in
        else:
            actions[i:] = piece  # this input's start, the other's actions after it
        return ["actions.splice"], self.codec.join(head, actions[: self.codec.max_actions])


def session(byte_mutate=None) -> Actions:
    return Actions(SessionCodec(), byte_mutate)


def network_filter(byte_mutate=None) -> Actions:
    return Actions(NetworkFilterCodec(), byte_mutate)


def http_filter(byte_mutate=None) -> Actions:
    return Actions(HttpFilterCodec(), byte_mutate)
