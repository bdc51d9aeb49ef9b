"""listener_filter's ClientHello field mutator (fuzz/mutators/listener.py): it reads and writes the
harness's field mode losslessly, puts the characters at the edges of the readers' classes into
server and ALPN names, and with it the harness finds a host-name check one character short at the
top of visible ASCII (a planted bug) in a few hundred mutations."""

import random
from pathlib import Path

import pytest

from fuzz.mutators import listener
from fuzz.oracles import InvariantViolation
from fuzz.targets import listener_filter as lf
from proxy.network.listener_filters import tls_inspector

CORPUS = Path(lf.__file__).resolve().parents[2] / "corpus" / "listener_filter"
FIELDS = lf.seed(("tls_inspector",), bytes([0, 9]) + b"a.example" + bytes([1, 2]) + b"h2", fields=True)


def field_seeds() -> list[bytes]:
    return [FIELDS] + [p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.name.startswith("fields-")]


def test_field_mode_inputs_are_read_and_written_back_unchanged():
    for data in field_seeds():
        assert listener.Fields(data).encode() == data
    f = listener.Fields(FIELDS)
    assert (f.name, f.alpn) == (b"a.example", [b"h2"])


def test_a_raw_input_becomes_a_field_mode_client_hello_with_its_head_kept():
    raw = lf.seed(("proxy_protocol", "tls_inspector"), b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", read_size=2)
    f = listener.Fields(raw)
    f.name = b"x.test"
    out = f.encode()
    assert out[0] == raw[0] and out[1] == raw[1] | listener.FIELDS_MODE
    filters, _, _, pieces = lf.decode(out)
    assert filters == ("proxy_protocol", "tls_inspector") and b"x.test" in b"".join(pieces)


def test_edge_characters_reach_server_names_and_the_harness_reads_every_mutation():
    mutator = listener.listener_filter()
    mutator.bytes_share = 0.0
    names = set()
    for i in range(400):
        data = mutator.mutate(random.Random(i).choice(field_seeds()), 4096, i)
        lf.run(data)  # the real tls_inspector agrees with the reference readers on every one
        names.add(listener.Fields(data).name)
    seen = {c for name in names for c in name}
    assert {0x20, 0x21, 0x7E, 0x7F, 0x00, 0xFF} <= seen, sorted(seen)
    assert {"hello.sni_edge_char", "hello.sni_name", "hello.alpn_name"} <= set(mutator.counts)


def test_a_host_name_check_one_short_at_the_top_of_visible_ascii_is_found(monkeypatch):
    def one_short(ext):  # the planted bug: "~" (0x7E) refused
        name = original(ext)
        if "~" in name:
            raise tls_inspector._Malformed
        return name

    original = tls_inspector._server_name
    monkeypatch.setattr(tls_inspector, "_server_name", one_short)
    mutator = listener.listener_filter()
    data = FIELDS
    with pytest.raises(InvariantViolation, match="listener_filter_(found|outcome)"):
        for i in range(600):  # a chain of mutations, restarted now and then (as libFuzzer's corpus does)
            data = mutator.mutate(FIELDS if i % 16 == 0 else data, 4096, i)
            lf.run(data)


def proxy_v2_seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.name.startswith(("pp-v2-", "pp-http-v2-"))]


def test_proxy_v2_commands_and_families_reach_every_value_and_the_harness_reads_every_mutation():
    mutator = listener.listener_filter()
    mutator.bytes_share = 0.0
    pairs = set()
    for i in range(400):
        data = mutator.mutate(random.Random(i).choice(proxy_v2_seeds()), 4096, i)
        lf.run(data)  # the real proxy_protocol filter agrees with the reference reader on every one
        at = data.find(listener.PROXY_V2_SIGNATURE)
        if at >= 0 and len(data) >= at + 14:  # else the call made a field-mode ClientHello instead
            pairs.add((data[at + 12], data[at + 13]))
    assert {c for c, _ in pairs} >= {0x20, 0x21, 0x22}
    assert {(0x20, 0x11), (0x20, 0x21), (0x21, 0x31)} & pairs and "proxy.v2_fields" in mutator.counts


def test_a_local_header_whose_addresses_are_used_is_found(monkeypatch):
    """HAProxy's spec 2.2: LOCAL discards the block, family included. The planted bug reads the command
    as PROXY whenever a family is given; the seeds' LOCAL header has none, the mutator gives it one."""
    from proxy.network.listener_filters import proxy_protocol

    def v2(data):
        if len(data) > 12 and data[12] == 0x20:
            data = data[:12] + b"\x21" + data[13:]
        return original(data)

    original = proxy_protocol._v2
    monkeypatch.setattr(proxy_protocol, "_v2", v2)
    local = CORPUS / "pp-v2-local"
    lf.run(local.read_bytes())  # AF_UNSPEC: nothing to misread
    mutator = listener.listener_filter()
    data = local.read_bytes()
    with pytest.raises(InvariantViolation, match="listener_filter_(found|outcome)"):
        for i in range(600):
            data = mutator.mutate(local.read_bytes() if i % 8 == 0 else data, 4096, i)
            lf.run(data)


def test_a_proxy_header_alone_then_the_end_is_built_from_nothing_and_its_lost_end_found(monkeypatch):
    """An empty corpus: the byte mutator almost never spells a whole PROXY header, and a balancer's
    health check is one with nothing after it. The planted bug drops the end of stream that came
    while the filters drained every byte (bench/bugs/listener-filters-end-of-stream-lost)."""
    from proxy.network.listener_filter import ListenerFilterStage

    empty = lf.seed(("proxy_protocol",), b"")
    mutator = listener.listener_filter()
    mutator.bytes_share = 0.0
    for i in range(100):
        lf.run(mutator.mutate(empty, 4096, i))  # the clean tree: no finding
    assert "proxy.header_first" in mutator.counts

    original = ListenerFilterStage._finish

    def finish(self):  # the planted bug: an end of stream is delivered only behind held bytes
        if not self.held:
            self.end_stream = False
        original(self)

    monkeypatch.setattr(ListenerFilterStage, "_finish", finish)
    with pytest.raises(InvariantViolation, match="listener_filter_end_of_stream_lost"):
        for i in range(200):
            lf.run(mutator.mutate(empty, 4096, i))
