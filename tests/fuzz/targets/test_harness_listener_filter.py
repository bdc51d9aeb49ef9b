"""The listener_filter harness: seeds replay clean, the references agree with the filters on real
inputs, and each oracle fails when a bug is planted (monkeypatch): an SNI read one byte short, a
PROXY header drained one byte short, a sniffer that decides before the bytes do, addresses swapped."""

import random

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import client_hello_reference, listener_filter as target, proxy_header_reference
from proxy.network.listener_filters import http_inspector, proxy_protocol, tls_inspector

from tlsscript import client_hello, reframe

HELLO = client_hello("www.example.com", ("h2", "http/1.1"))
HEADER = b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 10000\r\n"


def test_the_seed_corpus_and_odd_inputs_run_clean():
    from pathlib import Path

    seeds = sorted(Path(__file__).resolve().parents[3].joinpath("corpus", "listener_filter").iterdir())
    assert len(seeds) >= 30
    for path in seeds:
        target.run(path.read_bytes())
    for data in (b"", b"\x00", b"\x80\x81", random.Random(1).randbytes(3000)):
        target.run(data)


def test_the_references_read_real_inputs_as_the_filters_do():
    for data in (HELLO, reframe(HELLO, 3), client_hello()):
        assert client_hello_reference.judge(data) == client_hello_reference.Hello(
            *tls_inspector.inspect(data).__dict__.values()
        )
    header = proxy_header_reference.judge(HEADER + b"x")
    assert (header.length, header.source, header.destination) == (43, ("192.0.2.1", 5000), ("127.0.0.1", 10000))
    assert client_hello_reference.judge(HELLO[:50]) == "incomplete"
    assert proxy_header_reference.judge(b"GET /") == "absent"


def run_seed(*filters, data, **kw):
    target.run(target.seed(filters, data, **kw))


def test_an_sni_read_one_byte_short_is_caught(monkeypatch):
    run_seed("tls_inspector", data=HELLO)
    real = tls_inspector._server_name
    monkeypatch.setattr(tls_inspector, "_server_name", lambda ext: real(ext)[:-1])
    with pytest.raises(InvariantViolation) as err:
        run_seed("tls_inspector", data=HELLO)
    assert err.value.name == "listener_filter_found"


def test_a_proxy_header_drained_one_byte_short_is_caught(monkeypatch):
    run_seed("proxy_protocol", data=HEADER + b"payload")
    real = proxy_protocol.parse

    def short(data):
        found = real(data)
        if isinstance(found, proxy_protocol.ProxyHeader):
            return proxy_protocol.ProxyHeader(
                found.version, found.length - 1, found.source, found.destination, found.tlvs
            )
        return found

    monkeypatch.setattr(proxy_protocol, "parse", short)
    with pytest.raises(InvariantViolation) as err:
        run_seed("proxy_protocol", data=HEADER + b"payload")
    assert err.value.name == "listener_filter_consumed_application_bytes"


def test_a_sniffer_deciding_before_the_line_is_complete_is_caught(monkeypatch):
    line = b"GET / HTTP/1.1\r\n\r\n"
    run_seed("http_inspector", data=line, read_size=1)
    real = http_inspector.inspect
    monkeypatch.setattr(
        http_inspector, "inspect", lambda data: http_inspector.NOT_HTTP if len(data) < 4 else real(data)
    )
    with pytest.raises(InvariantViolation) as err:
        run_seed("http_inspector", data=line, read_size=1)
    assert err.value.name == "listener_filter_split_variance"


def test_swapped_proxy_addresses_are_caught(monkeypatch):
    real = proxy_protocol._v1

    def swapped(data):
        found = real(data)
        if isinstance(found, proxy_protocol.ProxyHeader) and found.source:
            return proxy_protocol.ProxyHeader(1, found.length, found.destination, found.source)
        return found

    monkeypatch.setattr(proxy_protocol, "_v1", swapped)
    with pytest.raises(InvariantViolation) as err:
        run_seed("proxy_protocol", "http_inspector", data=HEADER + b"GET / HTTP/1.1\r\n")
    assert err.value.name == "listener_filter_found"


def test_a_rejection_the_references_do_not_make_is_caught(monkeypatch):
    monkeypatch.setattr(tls_inspector, "MAX_CLIENT_HELLO", 256)  # a limit far below 64 KiB
    with pytest.raises(InvariantViolation) as err:
        run_seed("tls_inspector", data=HELLO)
    assert err.value.name == "listener_filter_outcome"


def test_synthesized_client_hellos_carry_the_fuzzers_name_and_protocols_in_any_record_size():
    fields = bytes([2 * 5, 15]) + b"www.example.com" + bytes([2, 2]) + b"h2" + bytes([8]) + b"http/1.1"
    data = target.synthesized_client_hello(fields)
    assert client_hello_reference.judge(data) == client_hello_reference.Hello("www.example.com", ("h2", "http/1.1"))
    assert data[3:5] == b"\x00\x05"  # records of 5 bytes
    header = target.synthesized_client_hello(bytes([1, 1]) + b"x" + b"\x00")
    assert header.startswith(b"PROXY TCP4 ") and proxy_header_reference.judge(header).length == header.index(b"\x16")


@pytest.mark.parametrize(
    "planted",
    [
        lambda real: lambda name: reversed(list(real(name))),  # the shortest wildcard first (*.com)
        lambda real: lambda name: list(real(name))[:1],  # one label deep only, as a certificate's wildcard
    ],
)
def test_a_wrong_server_name_precedence_is_caught(monkeypatch, planted):
    # The bug class (PLANT round 5, chain-sni-wildcard-shortest-first): the chain for *.com chosen for
    # www.example.com over the chain for *.example.com, or a deeper name matching no wildcard at all.
    from proxy.network import chain_match

    hello = client_hello("a.www.example.com", ("h2",))
    run_seed("tls_inspector", data=hello)
    monkeypatch.setattr(chain_match, "_wildcards", planted(chain_match._wildcards))
    with pytest.raises(InvariantViolation) as err:
        run_seed("tls_inspector", data=hello)
    assert err.value.name == "chain_match_server_name_precedence"


def test_an_end_of_stream_lost_while_the_filters_run_is_caught(monkeypatch):
    # The bug class (PLANT round 5, listener-filters-end-of-stream-lost): the stage drops the client's
    # end of stream it held, so a PROXY header followed by a half close never ends the chain's side.
    from proxy.network.listener_filter import ListenerFilterStage

    run_seed("proxy_protocol", data=HEADER)
    run_seed("proxy_protocol", data=HEADER + b"payload")
    real = ListenerFilterStage._finish

    def forgetful(self):
        self.end_stream = False
        return real(self)

    monkeypatch.setattr(ListenerFilterStage, "_finish", forgetful)
    with pytest.raises(InvariantViolation) as err:
        run_seed("proxy_protocol", data=HEADER)
    assert err.value.name == "listener_filter_end_of_stream_lost"


@pytest.mark.parametrize(
    "confused",
    [
        lambda facts, conn: {"direct_source_ip": facts.source_ip},  # the named source as the direct peer
        lambda facts, conn: {"source_ip": facts.direct_source_ip},  # the direct peer as the named source
        lambda facts, conn: {"destination_port": 10000},  # the socket's port, not the one the header named
    ],
)
def test_chain_matching_on_the_wrong_side_of_a_proxy_header_is_caught(monkeypatch, confused):
    # The bug class (PLANT_L round 6, chain-direct-source-uses-proxy-protocol-source): chain matching
    # reads the TCP peer where the PROXY-named source is meant, or the other way round.
    import dataclasses

    from proxy.network import chain_match

    header = b"PROXY TCP4 198.51.100.7 192.0.2.9 5000 8443\r\n"
    run_seed("proxy_protocol", data=header + b"payload")
    real = chain_match.facts_of

    def wrong(conn):
        facts = real(conn)
        return dataclasses.replace(facts, **confused(facts, conn))

    monkeypatch.setattr(chain_match, "facts_of", wrong)
    with pytest.raises(InvariantViolation) as err:
        run_seed("proxy_protocol", data=header + b"payload")
    assert err.value.name == "chain_match_found_facts"


def test_a_tie_on_an_address_criterion_kept_by_position_is_caught(monkeypatch):
    # The bug class (PLANT_L round 8, chain-equal-prefixes-keep-last-chain): of chains whose prefix
    # ranges match the address equally well, only the last (or first) goes on to the later criteria.
    from proxy.network import chain_match

    from fuzz.targets import found_facts_chains

    header = b"PROXY TCP4 198.51.100.7 192.0.2.9 5000 8443\r\n"
    run_seed("proxy_protocol", data=header + b"payload")
    real = chain_match._longest_prefix

    def last_of_ties(chains, attr, ip):
        kept = real(chains, attr, ip)
        return kept[-1:] if any(getattr(c.match, attr) for c in kept) else kept

    monkeypatch.setattr(chain_match, "_longest_prefix", last_of_ties)
    monkeypatch.setattr(found_facts_chains, "_CHECKED", set())  # judged again, now with the tie broken
    with pytest.raises(InvariantViolation) as err:
        run_seed("proxy_protocol", data=header + b"payload")
    assert err.value.name == "chain_match_found_facts"


@pytest.mark.parametrize(
    "line",
    [b"PROXY UNKNOWN " + b"x" * 200, b"PROXY TCP4 " + b"1" * 120 + b"\r\n", b"PROXY " + bytes(300)],
    ids=["no-crlf", "crlf-past-the-bound", "nul-bytes"],
)
def test_a_malformed_proxy_header_held_for_more_bytes_is_caught(monkeypatch, line):
    """A v1 line with no CRLF in its 107 bytes is malformed (HAProxy's spec): refused at once, clean;
    planted without the bound the connection waits for more (and a long UNKNOWN line passes)."""
    data = target.seed(("proxy_protocol",), line + b"payload", read_size=3, cuts=(110, 120))
    target.run(data)
    monkeypatch.setattr(proxy_protocol, "V1_MAX", 1 << 20)  # the bound planted away: wait for a CRLF
    with pytest.raises(InvariantViolation) as err:
        target.run(data)
    assert err.value.name == "listener_filter_refused_late"
