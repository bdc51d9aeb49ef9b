"""Structure-aware mutators (fuzz/mutators/): lossless tokenizers, deterministic mutations that fit
libFuzzer's size limit, action scripts that stay decodable and round-trip through each harness's
encoder, every mutation kind reachable, and the wiring into atheris and the run summary."""

import json
import random
from dataclasses import replace

import pytest

from fuzz import harness, mutators
from fuzz import session as session_module
from fuzz.mutators import actions, http1, http2
from fuzz.mutators.base import python_byte_mutate
from fuzz.targets import http_filter, network_filter

LAYOUT = harness.Layout()
ROUNDS = 300


def seeds(name: str, n: int = 12) -> list[bytes]:
    files = harness.find(LAYOUT, name).seed_files()[:n]
    return [b""] + [f.read_bytes() for f in files]


def walk(mutator, start: bytes, rounds: int, max_size: int = 8192, seed: int = 0):
    """Mutations fed back into the mutator, as libFuzzer's stacked mutations are."""
    data = start
    for i in range(rounds):
        data = mutator.mutate(data, max_size, seed * 100003 + i)
        yield data


def random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(n)))


# ------------------------------------------------------------------------------ tokenizers
def test_http1_tokenizer_is_lossless_on_any_bytes_and_reads_the_grammar():
    rng = random.Random(1)
    samples = seeds("h1_server") + seeds("h1_client") + [random_bytes(rng, 80) for _ in range(3000)]
    samples += [b"GET / HTTP/1.1\r\n" + bytes(rng.choice(b"\r\n:; 0a") for _ in range(40)) for _ in range(2000)]
    for data in samples:
        for response in (False, True):
            assert http1.parse(data, response).raw() == data
    stream = http1.parse(
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\nHost: y\n\n"
    )
    first, second = stream.messages
    assert [http1.field_name(f) for f in first.fields] == [b"host", b"transfer-encoding"]
    assert [c.data for c in first.chunks] == [b"abcd", b""] and first.trailers[0].text == b"X-T: 1"
    assert second.start.eol == b"\n" and second.blank == b"\n" and stream.tail == b""


def test_http2_tokenizer_is_lossless_and_decodes_header_blocks():
    rng = random.Random(2)
    for _ in range(3000):
        data = http2.PREFACE + random_bytes(rng, 120)
        assert http2.parse(data).raw() == data
    cap = http2.new_capture(random.Random(5))
    data = cap.raw()
    again = http2.parse(data)
    assert again.raw() == data and again.frames[0].type == http2.SETTINGS
    blocks = http2.header_blocks(again)
    assert blocks and blocks[0].fields[0][0] == b":method"


# ------------------------------------------------------------------------------ every mutator
@pytest.mark.parametrize("name", sorted(mutators.MUTATORS))
def test_mutations_are_deterministic_for_a_seed_and_fit_max_size(name):
    start = seeds(name, 4)
    for i, data in enumerate(start * 10):
        max_size = 64 + 97 * i
        a = mutators.create(name).mutate(data, max_size, 1000 + i)
        b = mutators.create(name).mutate(data, max_size, 1000 + i)
        assert a == b and len(a) <= max_size
        other = start[(i + 1) % len(start)]
        c = mutators.create(name).crossover(data, other, max_size, i)
        assert c == mutators.create(name).crossover(data, other, max_size, i) and len(c) <= max_size


@pytest.mark.parametrize("name", sorted(mutators.MUTATORS))
def test_structured_mutations_reach_new_shapes_from_an_empty_input(name):
    mutator = mutators.create(name)
    outputs = set(walk(mutator, b"", ROUNDS))
    structured = {k for k in mutator.counts if k not in ("bytes", "error")}
    assert len(outputs) > ROUNDS // 2 and len(structured) >= 5, mutator.counts


def _all_kinds(mutator, starts, rounds):
    for n, start in enumerate(starts):
        for _ in walk(mutator, start, rounds, seed=n):
            pass
    return {k.split(".", 1)[1] for k in mutator.counts if k.startswith(("h1.", "h2.", "actions."))}


def test_every_http1_operation_applies():
    mutator = http1.requests()
    mutator.bytes_share = 0.0
    assert _all_kinds(mutator, seeds("h1_server", 20), 150) == set(http1.operations(False))
    responses = http1.responses()
    responses.bytes_share = 0.0
    assert _all_kinds(responses, seeds("h1_client", 20), 100) == set(http1.operations(True))


def test_every_http2_operation_applies():
    mutator = http2.Http2()
    mutator.bytes_share = 0.0
    starts = [http2.new_capture(random.Random(i)).raw() for i in range(10)]
    assert _all_kinds(mutator, starts, 150) >= set(http2.operations())


def test_http1_operations_make_the_shapes_they_name():
    rng = random.Random(3)
    get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    stream = http1.parse(get)
    assert http1.framing_both(stream, rng)
    names = [http1.field_name(f) for f in stream.messages[0].fields]
    assert b"content-length" in names and b"transfer-encoding" in names
    notations = set()
    for seed in range(200):
        s = http1.parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n")
        assert http1.chunk_size_op(s, random.Random(seed))
        notations.add(s.messages[0].chunks[0].size.text)
    assert {b"1A", b"0x1a", b"+1a", b"1_a"} <= notations and any(n.startswith((b" ", b"\t")) for n in notations)
    folded = http1.parse(get)
    assert http1.field_fold(folded, rng) and folded.messages[0].fields[1].text[:1] in (b" ", b"\t")
    nominated = set()
    for seed in range(40):
        s = http1.parse(b"GET / HTTP/1.1\r\nHost: a\r\nX-Proxy-Hint: 1\r\nConnection: close\r\n\r\n")
        assert http1.connection_nominate(s, random.Random(seed))
        tokens = [
            t.strip()
            for f in s.messages[0].fields
            if http1.field_name(f).strip().lower() == b"connection"
            for t in http1.field_value(f).split(b",")
        ]
        nominated |= {t for t in tokens if t.lower() in (b"host", b"x-proxy-hint")}
    assert b"X-PROXY-HINT" in nominated and any(t != t.lower() and t.lower() == b"host" for t in nominated)


def test_http2_field_mutations_keep_every_block_decodable():
    mutator = http2.Http2()
    mutator.bytes_share = 0.0
    data = http2.new_capture(random.Random(7)).raw()
    for seed in range(300):
        cap = http2.parse(data)
        if http2.header_blocks(cap) and http2._field_op(http2._add)(cap, random.Random(seed)):
            assert len(http2.header_blocks(http2.parse(cap.raw()))) == len(http2.header_blocks(cap))
            data = cap.raw()
    assert len(http2.header_blocks(http2.parse(data))[0].fields) > 6


# ------------------------------------------------------------------------------ action scripts
CODECS = {
    "session": actions.SessionCodec,
    "network_filter": actions.NetworkFilterCodec,
    "http_filter": actions.HttpFilterCodec,
}


@pytest.mark.parametrize("name", sorted(CODECS))
def test_action_mutations_stay_decodable_and_round_trip_through_the_encoder(name):
    """Every structured output is canonical: its actions decode, and decode(encode(x)) == x."""
    codec = CODECS[name]()
    mutator = mutators.create(name)
    structured = 0
    for n, start in enumerate(seeds(name, 6)):
        data = start
        for i in range(60):
            before = mutator.counts["bytes"]
            data = mutator.mutate(data, 8192, n * 1000 + i)
            if mutator.counts["bytes"] > before:
                continue  # libFuzzer's bytes: decodable (every input is), not necessarily canonical
            structured += 1
            head, acts = codec.split(data)
            assert codec.decode(codec.encode(acts)) == acts
            assert codec.join(head, acts) == data
    assert structured > 250
    assert mutator.counts["actions.insert"] and mutator.counts["actions.field"] and mutator.counts["actions.payload"]


def test_action_heads_are_read_as_the_harnesses_read_them():
    """The split agrees with each harness's own layout (its seed builders)."""
    from fuzz.targets.examples import example_network_filters

    script = [session_module.Action("send", 0, payload=b"GET / HTTP/1.1\r\n\r\n")]
    assert actions.SessionCodec().split(session_module.encode_actions(script, 7, 2)) == (bytes([7, 2]), script)
    f = next(iter(example_network_filters()))
    kind = f.WhichOneof("filter")
    head, acts = actions.NetworkFilterCodec().split(network_filter.seed(kind, getattr(f, kind), 5, script))
    assert acts == script and head[-1] == 5 and head[0] == network_filter.filter_names().index(kind)
    name, configs = next((n, c) for n, c in http_filter._configs().items() if c)
    script2 = [("decode_headers", 1, b"", False), ("decode_data", 3, b"abc", True)]
    head, acts = actions.HttpFilterCodec().split(http_filter.seed(name, configs[0], 1, 2, 3, script2))
    assert acts == script2 and head[-6:] == bytes([1, 2, 0, 0, 0, 3])


def test_action_mutator_learns_new_ops_from_the_decoder(monkeypatch):
    """An op appended to session.OPS (others add them) is inserted and mutated with no change here."""
    monkeypatch.setattr(session_module, "OPS", session_module.OPS + ("brand_new_op",))
    mutator = actions.session()
    mutator.bytes_share = 0.0
    seen = set()
    # 1 op in 27 per random insert: 400 mutations drew it by chance only (none with the ops of REACH)
    for data in walk(mutator, b"", 1600):
        seen |= {a.op for a in actions.SessionCodec().split(data)[1]}
    assert "brand_new_op" in seen


def test_payloads_are_mutated_at_their_protocol_level():
    mutator = actions.session()
    send = session_module.Action("send", 0, payload=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert mutator.capacity(send) == session_module.MAX_PAYLOAD
    assert mutator.capacity(replace(send, op="read", payload=b"")) == 0
    changed = [mutator.mutate_payload(send, random.Random(i)) for i in range(50)]
    parsed = [http1.parse(p) for p in changed]
    assert all(p.messages and p.messages[0].start.text.split(b" ")[0] for p in parsed)
    assert sum(p != send.payload for p in changed) > 40
    h2_send = replace(send, payload=http2.new_capture(random.Random(1)).raw())
    assert all(mutator.mutate_payload(h2_send, random.Random(i)).startswith(http2.PREFACE) for i in range(20))


# ------------------------------------------------------------------------------ wiring
def test_setup_kwargs_give_atheris_both_hooks_or_nothing(monkeypatch):
    monkeypatch.delenv(mutators.MUTATOR_ENV, raising=False)
    kwargs = harness.mutators("h1_server")
    assert set(kwargs) == {"custom_mutator", "custom_crossover"}
    assert harness.mutators("route") == {}
    monkeypatch.setenv(mutators.MUTATOR_ENV, "bytes")
    assert harness.mutators("h1_server") == {}
    monkeypatch.setenv(mutators.MUTATOR_ENV, "nonsense")
    with pytest.raises(ValueError, match="PROXYFUZZ_MUTATOR"):
        harness.mutators("h1_server")


def test_a_failing_mutator_falls_back_to_bytes_and_counts_are_written(tmp_path, capsys):
    mutator = http1.requests(python_byte_mutate)
    hooked = mutators.Hooked(mutator, str(tmp_path))
    out = hooked.mutate(b"GET / HTTP/1.1\r\n\r\n", 100, 1)
    assert len(out) <= 100
    mutator.structured = lambda data, max_size, rng: 1 / 0
    mutator.bytes_share = 0.0
    assert len(hooked.mutate(b"abc", 10, 2)) <= 10
    assert "ZeroDivisionError" in capsys.readouterr().err and mutator.counts["error"] == 1
    hooked.written = 0.0
    hooked.mutate(b"abc", 10, 3)
    written = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert written["mutator"] == "http1" and written["counts"]["error"] == 2
    (tmp_path / "2.json").write_text(json.dumps({"mutator": "http1", "counts": {"error": 3, "bytes": 5}}))
    assert mutators.read_stats(tmp_path)["error"] == 5
    assert mutators.shares_line({"bytes": 1, "h1.field_drop": 3}) == "mutations: 4; h1.field_drop 75%, bytes 25%"


def test_fuzzing_run_uses_the_custom_mutator_and_reports_its_shares(tmp_path):
    from fuzz import runner

    layout = harness.Layout(work=tmp_path / "work", reports=tmp_path / "reports")
    spec = harness.find(layout, "h1_server")
    empty = harness.HarnessSpec(
        spec.name, spec.path, spec.target, tmp_path / "no-seeds", spec.dictionary, spec.options_path
    )
    result = runner.run(empty, layout, time_s=None, extra=["-runs=400", "-seed=1"])
    assert result.returncode == 0, result.log.read_text()[-2000:]
    assert any(k.startswith(("h1.", "cross.h1.")) for k in result.mutations), result.mutations
    assert "mutations: " in result.summary()


def test_filter_configurations_are_drawn_valid_from_the_schema():
    """config_new gives the uber-filter harnesses configurations their validation accepts, from nothing."""
    for name, module in (("network_filter", network_filter), ("http_filter", http_filter)):
        mutator = mutators.create(name)
        op = mutator.ops["head_config_new"][1]
        valid = 0
        for seed in range(40):
            state = [mutator.codec.split(b"")[0], []]
            op(state, random.Random(seed))  # unchanged when it draws the head it had
            head = state[0]
            blob = head[3 : 3 + int.from_bytes(head[1:3], "big")]
            names = module.filter_names()
            try:
                module.built_for(names[head[0] % len(names)], blob)
                valid += 1
            except module.Invalid:
                pass
        assert valid >= 25, (name, valid)
