"""Whole session scenarios, generated from the session's action grammar, for the action mutator to
put in front of an input (or in it): the session's counterpart of h2_codec's prologue
(fuzz/mutators/h2_actions.py).

A session input is a list of actions (fuzz/session.py OPS); most defects of a proxy's session
layer show only after several of them in the order real peers make them: a client connects,
perhaps advertises its SETTINGS, sends a request; the upstream connect completes, fails or never
answers; time passes (past a connect, route or idle timeout, so a retry or a timeout fires); the
upstream reads, answers, goes away or closes; the client reads, sends more body, closes. Random
single-action inserts almost never build such an order: an upstream answer before the request
made its connection acts on nothing, and a timeout needs the advance after the request.

So every op of the grammar has one ROLE, and a scenario is the roles in that order, each step an
op drawn from its role with operands drawn at random through the decoder (`make(op, rng)`), so
nothing here knows an operand layout or a configuration: the configuration byte, the payload
templates and the values stay the fuzzer's to choose and mutate. An op appended to OPS must be
given a role (tests/fuzz/test_mutator_scenarios.py checks that every op has one).
"""

import random
from collections.abc import Callable

# Every op of fuzz.session.OPS, by the part it plays in an exchange.
ROLES = {
    "open": (
        "connect",
        "connect_tls",
        "connect_fitting",
    ),  # one more client (value: listener and source, target: SNI/port)
    "configure": ("settings", "upstream_settings", "window", "upstream_window"),  # HTTP/2 SETTINGS a peer advertises
    "request": ("send_http", "send", "send_request"),  # a client sends a request (or more of one)
    "connect_outcome": ("upstream_connect", "upstream_fail", "upstream_connect_silent"),
    "upstreams_up": ("upstream_accept_next",),  # before a request: its connects complete as they are made
    "upstream": (
        "upstream_read",
        "upstream_read_to",
        "upstream_http",
        "upstream_send",
        "upstream_goaway",
        "upstream_close",
        "upstream_reset",
        "upstream_respond",
    ),
    "client": ("read", "read_to", "close", "reset", "drain"),
    "time": ("advance",),
}
# How often each op is drawn within its role (1 when not listed): the common move of each role first.
WEIGHTS = {
    "send_http": 4,
    "send_request": 4,
    "connect_fitting": 2,
    "upstream_connect": 4,
    "upstream_connect_silent": 2,
    "upstream_read": 3,
    "upstream_http": 4,
    "upstream_respond": 4,
    "read": 6,
    "read_to": 2,
}
READ_BEFORE_WAIT = 0.75
# ... and between the steps of a longer wait, this often: what the proxy sends at a deadline inside
# the wait (a 504 at a route timeout) is read before a later idle or delayed-close timeout of the
# same wait ends the connection with it unread (the oracles judge only what the client saw).
READ_BETWEEN_STEPS = 0.5
# Time passes in a family of step sizes (fuzz.session.TIME_STEPS_MS: 0 ms to 2 min). Between a
# request and its upstream's connect outcome most steps are short (<= SHORT_STEP_MS), so a connect
# timeout of 1-100 ms (common in the pool) is outlived as often as it fires; the branch that leaves
# the connect pending, and the end, take any step. With every step drawn alike, 74 of 300 scenarios
# lost their only upstream connection to its connect timeout (python -m fuzz bench scenario-reach).
SHORT_STEP_MS = 10
SHORT_BEFORE_CONNECT = 0.75
SHORT_ELSEWHERE = 0.5
# After its connect outcome, an upstream that serves (as most do) reads the request before anything
# else, and then mostly answers it: drawn from the whole upstream role, its first move was a read
# one time in four, so the route and idle timeouts of the steps after it ended most requests unread
# (36 of 300 scenarios had an upstream accept and read nothing).
SERVES = 0.7
# Before an exchange's request, the upstreams are up this often (the next connections the proxy opens
# are accepted as they are made): a request a fault filter delays opens its connection late, after
# the exchange's connect outcome acted on nothing (40 of 51 pool configurations have a fault delay).
# The other exchanges keep their explicit outcomes, connect timeouts included.
UPSTREAMS_UP = 0.5
ANSWERS = 0.75
# An answer is the template fitting the upstream's protocol (upstream_respond, always a whole
# response) or, this often, any upstream template (upstream_http): a body that runs to the close,
# which stays open while the upstream keeps the connection (a stream, a slow download). A route
# timeout counts to the END of the response; with only whole answers no timeout ever fired after a
# response started (0 in 1,500 in-process inputs from an empty corpus, 348 timeouts armed).
STREAMED = 0.3
# A scenario's input is put on an entry of the pool's forwarding family this often
# (fuzz/configgen/forwarding.py: every route forwards): the upstream's moves of an exchange act on
# a request only when the router sent one, which a drawn configuration byte gives about one
# exchange in sixteen (reports/bench/seeds-none-round-2026-12-04c.md).
FORWARDED = 0.25
# A scenario's input is put on an entry of the pool's TLS identity family this often
# (fuzz/configgen/identities.py: mTLS chains, RBAC principals, SAN lists and version caps drawn from
# the test PKI's names), and each of its exchanges then opens a TLS client of its own presenting a
# drawn certificate (or none): a TLS client meeting a chain that judges who it is was drawn by the
# other scenarios only where a configuration byte, a connect_tls mode byte and a chain match agreed
# (reports/bench/seeds-none-round-2026-12-04g.md: no such entry named the test certificate's CN).
# An identity scenario costs ~1.8x the one it replaces (TLS handshakes), so the share is kept at 0.07:
# paired CPU of the scenarios over the whole distribution 1.056x; with the six identity bench patches
# applied, 0 finds per 1,000 scenarios without the share, 20 with it
# (reports/bench/seeds-none-round-2026-12-05.md).
IDENTIFIED = 0.07
# An upstream that read its requests shuts down gracefully this often before it answers them (a
# rolling restart: GOAWAY naming the last stream it read, then the answers, RFC 9113 6.8), so the
# proxy holds a stream in flight at or below the GOAWAY's last stream id, which it must still let
# complete. Drawn from the whole upstream role, a GOAWAY came 1 time in 16 and only after the
# answer, when no stream was left in flight. Only on the forwarding family, whose requests reach an
# upstream (HTTP/2 clusters among them): drawn everywhere, the shape cost session a fifth of its
# executions per CPU second from an empty corpus (reports/bench/seeds-none-round-2026-12-04f.md).
GOES_AWAY = 0.15
# A scenario starts with a crowd this often: 2-4 clients of their own, each sending a request, before
# any exchange, so the proxy holds several requests at once for the same clusters (each client one
# connection: an HTTP/1.1 client's pipelined requests reach the router one at a time). Connection caps
# (Cluster.max_connections, circuit breakers), pending queues and their overflow show only then. On
# the pool's entries whose breaker allows more connections than the cluster's cap of 1-5, a proxy
# letting the breaker lift the cap was found by 1 of 1,000 scenarios without a crowd, 20 with one on
# every scenario; a crowd costs a scenario 1.6x its CPU, so it is kept rare: 1.04x over the whole
# distribution (reports/bench/seeds-none-round-2026-12-04g.md).
CROWD = 0.07
# Ops whose target is a downstream connection (the others' is an upstream one, or none).
DOWNSTREAM = ("send_http", "send", "send_request", "read", "read_to", "close", "reset")

Make = Callable[[str, random.Random], object]  # (op, rng) -> an action of that op, operands drawn
Open = Callable[[random.Random], object]  # rng -> an action opening a client of a kind (or None)
Retarget = Callable[[object, int], object]  # (action, target) -> the action aimed at that connection


def role_of(op: str) -> str | None:
    return next((role for role, ops in ROLES.items() if op in ops), None)


def _draw(role: str, rng: random.Random) -> str:
    ops = ROLES[role]
    return rng.choices(ops, [WEIGHTS.get(op, 1) for op in ops])[0]


class _Builder:
    """A scenario being written: the actions, and which connections exist so far (the decoder's
    implicit first connect is downstream connection 0)."""

    def __init__(self, rng: random.Random, make: Make, retarget: Retarget) -> None:
        self.rng, self.make, self.retarget = rng, make, retarget
        self.actions: list = []
        self.clients = 1
        self.upstreams = 0  # upstream connects completed (the newest is opened[upstreams - 1])

    def step(self, role: str, client: int | None = None, op: str | None = None) -> None:
        op = op or _draw(role, self.rng)
        action = self.make(op, self.rng)
        if action is None:
            return
        if op in ROLES["open"]:
            self.clients += 1
        elif op in DOWNSTREAM and client is not None:
            action = self.retarget(action, client)
        elif op in ROLES["connect_outcome"]:
            action = self.retarget(action, 0)  # the oldest pending connect, the one a request waits on
            self.upstreams += op != "upstream_fail"
        elif op in ROLES["upstreams_up"]:
            self.upstreams += 1  # the request's connection, accepted as it is made
        elif op in ROLES["upstream"] and self.upstreams:
            newest = self.upstreams - 1
            action = self.retarget(action, newest if self.rng.random() < 0.8 else self.rng.randrange(newest + 1))
        self.actions.append(action)

    def wait(self, most: int, client: int | None = None, short: float = 0.0) -> None:
        """0 to `most` steps of time, each short (<= SHORT_STEP_MS) with probability `short`, else any;
        before each, often, `client` reads what has come (a client that reads as bytes arrive, as
        most do, sees its response before a delayed close or an idle timeout drops it unread: the
        outcome the oracles judge)."""
        steps = self.rng.randrange(most + 1)
        for step in range(steps):
            if client is not None and self.rng.random() < (READ_BEFORE_WAIT if step == 0 else READ_BETWEEN_STEPS):
                action = self.make("read", self.rng)
                if action is not None:
                    self.actions.append(self.retarget(action, client))
            if self.rng.random() < short:
                self.short_step()
            else:
                self.step("time")

    def open_with(self, opener: Open) -> None:
        """One more client, opened by `opener`'s action."""
        action = opener(self.rng)
        if action is not None:
            self.actions.append(action)
            self.clients += 1

    def crowd(self) -> None:
        """2-4 clients of their own, each with a request, this often (CROWD). Drawn from a generator
        seeded by the scenario's state, not from it: a scenario without a crowd is the one drawn
        before CROWD existed (the committed tests' draws), and one with a crowd differs only by it.
        Seeded by the state's integers alone: the whole state holds None, whose hash is its address
        before Python 3.12, so a run would not repeat itself."""
        rng = random.Random(hash(self.rng.getstate()[1]))
        if rng.random() >= CROWD:
            return
        self.rng, main = rng, self.rng
        for _ in range(rng.randrange(2, 5)):
            self.step("open")
            self.step("request", self.clients - 1)
        self.rng = main

    def short_step(self) -> None:
        """A time step of at most SHORT_STEP_MS, drawn through the decoder like any other."""
        for _ in range(32):
            action = self.make("advance", self.rng)
            if action is not None and getattr(action, "value", 0) <= SHORT_STEP_MS:
                self.actions.append(action)
                return


def scenario(
    rng: random.Random, make: Make, retarget: Retarget, forwarded: bool = False, opener: Open | None = None
) -> list:
    """One scenario: SETTINGS first (sometimes), a crowd of clients' requests (sometimes, CROWD), then
    one to three exchanges, each a request, its upstream connect (retried after failures and
    timeouts), sometimes more of the client's bytes once the upstream is there, the upstream's moves
    and the client's, with time passing between them; often time runs on at the end, past every
    timeout. `forwarded`: the input is on the forwarding family (its upstreams sometimes go away
    between reading and answering, GOES_AWAY). `opener`: the first exchange, and each later one that
    opens a client, opens it with `opener` (the identity family's TLS clients, IDENTIFIED); the
    scenarios without it draw as before."""
    b = _Builder(rng, make, retarget)
    for _ in range(rng.choice((0, 0, 1, 2))):
        b.step("configure")
    b.crowd()
    for exchange in range(1 + (rng.random() < 0.4) + (rng.random() < 0.2)):
        opens = rng.random() < 0.5  # a client of its own, on any listener (the implicit first is on listener 0)
        if opener is not None and (opens or exchange == 0):
            b.open_with(opener)
        elif opens:
            b.step("open")
        client = b.clients - 1 if rng.random() < 0.8 else rng.randrange(b.clients)
        if rng.random() < UPSTREAMS_UP:
            b.step("upstreams_up")
        b.step("request", client)
        for _ in range(rng.randrange(3)):  # more of it (a body sent slowly), or another request
            b.wait(1, client, SHORT_BEFORE_CONNECT)
            b.step("request", client)
        for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.2)):  # connect attempts (retries)
            b.wait(2, client, SHORT_BEFORE_CONNECT)
            if rng.random() < 0.25:
                b.wait(3, client)  # the connect left pending: its connect timeout may end it
            else:
                b.step("connect_outcome")
        for _ in range(rng.randrange(3) if rng.random() < 0.4 else 0):  # more once the upstream is there
            # (a streaming upload's next pieces, a pipelined request, a slow head's rest)
            b.wait(1, client, SHORT_ELSEWHERE)
            b.step("request", client)
        if rng.random() < SERVES:  # an upstream that serves reads the request first, and mostly answers
            b.wait(1, client, SHORT_BEFORE_CONNECT)
            b.step("upstream", op="upstream_read")
            if forwarded and rng.random() < GOES_AWAY:
                b.step("upstream", op="upstream_goaway")
            if rng.random() < ANSWERS:
                b.wait(1, client, SHORT_BEFORE_CONNECT)
                b.step("upstream", op="upstream_http" if rng.random() < STREAMED else "upstream_respond")
                if rng.random() < READ_BEFORE_WAIT:  # and its client takes the answer as it comes
                    b.step("client", client, op="read")
        for _ in range(rng.randrange(5)):
            b.wait(1, client, SHORT_ELSEWHERE)
            b.step("upstream")
        for _ in range(rng.randrange(3)):
            b.wait(1, client, SHORT_ELSEWHERE)
            b.step("client", client)
    b.wait(3, client)
    return b.actions
