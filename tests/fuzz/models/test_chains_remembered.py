"""The chain model remembers its answers per listener (fuzz/models/chains.py _remembered): the same
answer as computing it, and never one listener's answer for another's question."""

from pathlib import Path

from proxy.config import load_file

from fuzz.models import chains

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SOURCES = ("127.0.0.1", "10.1.2.3", "192.168.0.7", "::1")


def _questions(listener):
    ports = {listener.address.port} | {c.filter_chain_match.destination_port for c in listener.filter_chains}
    names = {""} | {n for c in listener.filter_chains for n in c.filter_chain_match.server_names}
    for port in sorted(ports):
        for name in sorted(names):
            for source in SOURCES:
                yield port, name.replace("*.", "www."), source


def test_remembered_answers_are_the_computed_ones():
    asked = 0
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for listener in load_file(path).listeners:
            for port, name, source in _questions(listener):
                for _ in range(2):  # the second time from memory
                    got = chains.select(listener, port, name, source, destination_ip="127.0.0.1", source_port=40000)
                    assert got == chains._select(
                        listener, port, name, source, destination_ip="127.0.0.1", source_port=40000
                    )
                    asked += 1
    assert asked > 100


def test_each_listener_gets_its_own_answer():
    """The same question to a copy whose wildcard chain names another domain: not the first's answer."""
    boot = load_file(EXAMPLES / "sni_routing.yaml")
    other = type(boot)()
    other.CopyFrom(boot)
    other.listeners[0].filter_chains[1].filter_chain_match.server_names[:] = ["*.other"]
    question = (10444, "www.test", "127.0.0.1")
    assert chains.select(boot.listeners[0], *question, transport="tls") == (1,)
    assert chains.select(other.listeners[0], *question, transport="tls") == ()
    assert chains.select(boot.listeners[0], *question, transport="tls") == (1,)
