"""Which configurations of the session pool route a session's request to an upstream, measured.

    probe(built, n=48, seed=0) -> Reach(tried, reached)

A probe is the start of a session input, drawn as a fuzzer draws one: a client connects (half of the
time the connection every input starts with; else a listener, a source and a server name or port
from a random byte, in clear text or TLS, with a PROXY header or not), sends one templated
HTTP request (HTTP/1.1 or HTTP/2, random template bytes with no hostile shape), the upstream
connection completes (before and after 100 ms pass) and reads. It reached when an upstream peer saw the request (the strict
peers link it: fuzz/peers). A configuration none of whose probes reach an upstream tests
everything past the router on nothing: its sessions end at a 404, a direct response or a closed
connection. `python -m fuzz bench pool-reach` prints this per configuration of the pool.
"""

import random
from dataclasses import dataclass

from fuzz.session import Action, Session, peer_of

# Templates of fuzz.payloads.DOWNSTREAM_PAYLOADS: h1_request, h2_request.
_H1, _H2 = 0, 3


@dataclass(frozen=True)
class Reach:
    """Of `tried` probes: in how many an upstream saw the client's request (`http`), and in how
    many an upstream got any of the client's bytes (`relayed`: a request, or a tcp_proxy relay)."""

    tried: int
    http: int
    relayed: int
    findings: tuple = ()  # what probes raised (an oracle's finding on this configuration)

    @property
    def share(self) -> float:
        return self.http / self.tried if self.tried else 0.0


def _probe_actions(rng: random.Random) -> list:
    choice, variant, way = rng.randrange(256), rng.randrange(16), rng.randrange(4)
    if way < 2:  # the connection every input starts with (fuzz.session.decode_actions)
        connect = Action("connect")
    elif way == 2:
        connect = Action("connect", variant, value=choice)
    else:  # one mode byte: TLS or not, ALPN, certificate, SNI, a PROXY header (fuzz/tls_session.py)
        connect = Action("connect_tls", variant, value=choice, payload=bytes([rng.randrange(256)]))
    template = rng.choice((_H1, _H2))
    seed = bytearray(rng.randbytes(8))
    if template == _H1:
        seed[4] &= 0x1F  # framing, close, route fields; byte 7: no hostile shape
        seed[7] = 0
    else:
        seed[4] &= 0x0F  # no large or streaming upload
        seed[5] = 0  # no hostile shape, no reset
    return [connect, Action("send_http", 0, value=template, payload=bytes(seed), end_stream=False)] + [
        Action("upstream_connect"),
        Action("advance", value=100),  # past a short fault delay (a connection the proxy holds back)
        Action("upstream_connect"),
        Action("upstream_read"),
    ]


def outcome(built, actions) -> tuple[bool, bool, str]:
    """(an upstream saw a request of this session, an upstream got bytes from its client, the
    finding the session raised or "")."""
    try:
        session = Session(built).run(actions)
    except Exception as exc:  # noqa: BLE001 - a finding is counted apart, not as reach
        return False, False, f"{type(exc).__name__}: {exc}"[:200]
    http = any(ex.upstreams for ex in session.peers.exchanges)
    return http, http or any(peer_of(conn).received for conn in session.network.opened), ""


def probe(built, n: int = 48, seed: int = 0) -> Reach:
    rng = random.Random(seed)
    seen = [outcome(built, _probe_actions(rng)) for _ in range(n)]
    return Reach(n, sum(s[0] for s in seen), sum(s[1] for s in seen), tuple(s[2] for s in seen if s[2]))


# A pool configuration is useful when this share of its probes reaches an upstream: a request
# (three slots in four) or any byte (every fourth slot: tcp_proxy-only and TLS-heavy ones stay).
USEFUL_SHARE = 1 / 8


def useful_for_sessions(bootstrap, slot: int) -> bool:
    """gen-configs --for-sessions: keep `bootstrap` for `slot` of the session pool?"""
    from proxy.build import build

    reach = probe(build(bootstrap))
    reached = reach.relayed if slot % 4 == 3 else reach.http
    # A configuration the proxy already fails a probe on is a finding to fix, not a pool entry:
    # every seed on it would crash, and fuzzing on it would find that crash again and again.
    return reached >= USEFUL_SHARE * reach.tried and not reach.findings
