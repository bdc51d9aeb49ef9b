"""Settling a session: after its actions, the peers do what they owe and virtual time runs the
armed timers out, until nothing is in flight (then fuzz/liveness.py judges what is left).

One round of `settle`:
  1. upstream connects still pending complete;
  2. every peer reads everything the proxy wrote to it, and the session's checks run as after an
     action: the strict peers (fuzz/peers) look at what is new, an HTTP/2 one credits back
     (WINDOW_UPDATE) every DATA byte it read and answers SETTINGS (one that withheld its credit while
     the actions ran gives it all back; after SLOW_ROUNDS rounds they open small windows to 1 MiB);
     a client speaking HTTP/2 in raw bytes (no strict peer follows it) is credited here;
  3. every upstream answers what it owes, by its own record of what it read and sent: HTTP/1.1,
     the request it read whole and did not answer (a complete empty 200 when nothing of a response
     was sent, else it closes: a response left half sent can only end that way); HTTP/2, every
     stream whose request ended (up to the last id of a graceful GOAWAY);
  4. posted callbacks run.
A round in which no peer did anything ends in a look at the world (`liveness.find_stall`): nothing
in flight but waits on the peers, and settling is over; a stall (a request in a pool queue that could
serve it, a connection read-disabled for good, ...) is the finding at once: a timeout could only end
it with a failure; something waiting for a proxy timer (a fault delay, a request queued behind busy
connections until its route timeout): time jumps to the next deadline and the rounds go on, and if
no timer is armed that wait is the finding. Time runs at most HORIZON_MS, past every timeout the
schema allows: a request still waiting then waits on a timer that keeps being re-armed (a finding).
Bytes a network filter holds with its timer armed (a throttle's slow release) are left to it: time
is not run for them alone, only until some of them move: once every filter timer armed then has
fired with nothing moved (a throttle of rate 0 re-arming for ever), that is
`stall_filter_timer_without_progress`. A world still busy after MAX_ROUNDS rounds is a finding of its own
(`settle_unbounded`): a proxy that keeps itself busy never lets a client see an outcome. Rounds that
relay what the peers had sent before settling do not spend that budget (a client reading a 4 MB
tcp_proxy relay at a 16 KB buffer limit needs 256 of them): a round counts as relay progress when
the peers read at least PROGRESS_BYTES in it and, all rounds together, no more than the peers had
offered (plus the proxy's own framing and replies, RELAY_SLACK); a proxy inventing bytes (a PING
bounce, a byte per read) spends it. HARD_MAX_ROUNDS bounds the whole.
"""

from proxy.http.codec import H2_PREFACE
from proxy.network.connection import State

from . import liveness, tls_session
from .oracles import InvariantViolation
from .peers import H2

MAX_ROUNDS = 256
HARD_MAX_ROUNDS = 16 * MAX_ROUNDS
PROGRESS_BYTES = 1024
RELAY_SLACK = 65_536
# Rounds after which HTTP/2 peers still moving open their small windows (a 16-byte window would move a
# megabyte 16 bytes a round): late enough that a proxy waiting for a WINDOW_UPDATE it should not need
# is a stall first (found at the first quiet round).
SLOW_ROUNDS = 32
STEPS_BEFORE_JUMPS = 8  # timer steps taken one deadline at a time
# Filter timers armed one after another while held bytes wait (one per fault filter in a chain: each
# delay arms once the one before it let go) before a wait that moved nothing is a stall.
SLOW_GENERATIONS = 4
MAX_JUMP_MS = 600_000
# Virtual time settling lets pass: past the largest delay, request and route timeout the schema
# allows (1 h; Envoy's defaults are far below: route 15 s, stream idle 5 min).
HORIZON_MS = 3_700_000
UPSTREAM_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_DATA = 0x0


def settle(session) -> None:
    """Run rounds until nothing is in flight or no timer can move anything; see the module doc."""
    dispatcher = session.dispatcher
    start = dispatcher.now_ms()
    steps = 0
    offered = _bytes_on_wire(session, "sent")  # what a relay may still have to move
    read = start_read = _bytes_on_wire(session, "received")
    spent = 0
    probed = None  # a slow timer wait: [_in_flight, its filter timers' last deadline, time first seen, generations]
    for rounds in range(HARD_MAX_ROUNDS):
        if spent >= MAX_ROUNDS:
            break
        acted = _peers_act(session, slow=rounds >= SLOW_ROUNDS)
        dispatcher.run_posted()
        before, read = read, _bytes_on_wire(session, "received")
        if not (read - before >= PROGRESS_BYTES and read - start_read <= offered + RELAY_SLACK):
            spent += 1
        if acted:
            continue
        stall = liveness.find_stall(session)
        if stall is None:
            return
        deadline = dispatcher.next_deadline()
        if stall.slow and stall.timer:
            # Only a throttle releasing bytes at its pace: not worth the time it takes, once its
            # timers are seen to move some of the bytes (run to the deadlines armed now, at most).
            moved, now = _in_flight(session), dispatcher.now_ms()
            if probed is None:
                due = liveness.filter_timers_due(session)
                if due is None:
                    return  # no filter timer this look can follow (dc46eca's fault): left to it, as before
                probed = [moved, due, now, 0]
            elif moved != probed[0]:
                return
            if probed[1] is not None and now >= probed[1]:
                # Every filter timer armed at the last look has fired. A later filter may have armed
                # its own as the one before it let go (fault delays in a row): a few such generations.
                probed[1], probed[3] = liveness.filter_timers_due(session), probed[3] + 1
            if deadline is None or probed[1] is None or probed[3] > SLOW_GENERATIONS:
                raise InvariantViolation(
                    "stall_filter_timer_without_progress",
                    f"{stall.detail}: nothing moved from {probed[2]} ms to {now} ms, over {probed[3]} "
                    "generations of filter timers: a timer that moves nothing is no wait",
                )
            dispatcher.advance(deadline - dispatcher.now_ms())
            continue
        if not stall.timer or deadline is None:
            raise InvariantViolation(
                stall.name, stall.detail + ("" if stall.timer is False else " (no timer is armed)")
            )
        if deadline > start + HORIZON_MS:
            raise InvariantViolation(
                stall.name,
                f"{stall.detail} (still waiting {HORIZON_MS} ms later, past "
                f"every timeout the configuration can set: its timer keeps "
                f"being re-armed)",
            )
        now = dispatcher.now_ms()
        steps += 1
        jump = deadline - now
        if stall.due is not None and stall.due + 1 < deadline:
            dispatcher.advance(stall.due + 1 - now)  # its timer is later than it should be: see it overdue
            continue
        if steps > STEPS_BEFORE_JUMPS:
            # Slow but steady work (a 3-byte-per-second throttle) would take thousands of steps:
            # time then runs in doubling jumps, up to MAX_JUMP_MS at a time.
            jump = max(jump, min(1000 << (steps - STEPS_BEFORE_JUMPS), MAX_JUMP_MS, start + HORIZON_MS - now))
        dispatcher.advance(jump)
    raise InvariantViolation(
        "settle_unbounded",
        f"still busy after {rounds} rounds of settling ({spent} without relay progress) "
        f"(virtual time {dispatcher.now_ms()} ms): "
        f"{liveness.find_stall(session)}",
    )


def _in_flight(session) -> tuple:
    """What a held byte moving changes: the bytes the peers have read, and those waiting in the read
    buffers of the session's open connections."""
    conns = [sock.conn for sock in session.downstream if sock.conn is not None] + list(session.network.opened)
    held = sum(len(c.read_buffer) for c in conns if c.state is State.OPEN)
    return _bytes_on_wire(session, "received"), held


# ---------------------------------------------------------------------------------------- peers
def _peers_act(session, slow: bool = False) -> bool:
    """One round of the peers (see the module doc); True when any of them did something. `slow`:
    an exchange still moving after SLOW_ROUNDS rounds; HTTP/2 peers open their small windows."""
    network = session.network
    acted = bool(network.pending)
    for conn in list(network.pending):
        network.complete_connect(conn)
    acted |= tls_session.drive(session)  # TLS peers answer what the proxy wrote (handshakes)
    socks = [s for s in session.downstream if s.conn is not None and s.conn.state is not State.CLOSED]
    socks += [c.io for c in network.opened if c.state is not State.CLOSED and c.connected]
    for sock in socks:
        before = _on_wire(sock, "received")
        acted |= bool(sock.peer_read()) or _on_wire(sock, "received") != before
    peers = session.peers
    acted |= peers.release_credit(open_windows=slow)  # a peer that withheld its HTTP/2 windows gives them back now
    sent = sum(len(sock.sent) for sock in socks)
    session.check()  # every check of an action; the strict peers read what is new (HTTP/2 ones credit)
    for i, sock in enumerate(session.downstream):
        if sock.sent[: len(H2_PREFACE)] == H2_PREFACE and not _strict(peers.clients[i]):
            _credit_h2(sock)
    for i, conn in enumerate(network.opened):
        server = peers.servers[i] if i < len(peers.servers) else None
        sock = conn.io
        # A black-holed upstream (upstream_connect_silent) never answers: only a timeout ends its requests.
        silent = getattr(sock, "silent", False)
        if server and not silent and conn.state is not State.CLOSED and not sock.inbound and not sock.inbound_end:
            acted |= _answer_h2(server) if server.protocol == H2 else _answer_h1(server)
    return acted or sum(len(sock.sent) for sock in socks) != sent


def _bytes_on_wire(session, side: str) -> int:
    """All bytes the peers have sent (`side` "sent") or read ("received") so far, as on the wire."""
    return sum(_on_wire(sock, side) for sock in session.downstream + [c.io for c in session.network.opened])


def _on_wire(sock, side: str) -> int:
    """Bytes one peer has sent or read, as on the wire: a TLS peer counts ciphertext, so one whose
    handshake failed still drains the connection (each read lets a paused tcp_proxy side move on)
    though it decrypts nothing."""
    wire = getattr(sock, "wire_" + side, None)
    return len(wire if wire is not None else getattr(sock, side))


def _strict(peer) -> bool:
    return peer is not None and peer.protocol == H2 and not peer.tainted


def _answer_h1(server) -> bool:
    """An HTTP/1.1 upstream answers the request it read whole and has not answered."""
    responses = server.responses
    complete = sum(1 for up in server.seen if up.request.complete)
    answered = sum(1 for msg in responses.messages if msg.complete)
    if answered >= complete:
        return False
    if (
        responses.error is not None
        or responses.done
        or len(responses.messages) > answered
        or responses._current is not None
    ):
        # A response half sent, or bytes no HTTP/1.1 client reads as one (the fuzzer's), or after a
        # response that ended the connection: closing is the only way to finish.
        server.sock.peer_close()
    else:
        server.sock.peer_send(UPSTREAM_ANSWER)
    return True


def _answer_h2(server) -> bool:
    """An HTTP/2 upstream answers every stream whose request ended (a tainted one gives up)."""
    sock = server.sock
    if server.tainted:
        sock.peer_close()
        return True
    last = server.goaway[0] if server.goaway is not None and not server.goaway[1] else None
    if server.goaway is not None and last is None:
        return False  # the proxy ended the connection with an error: nothing can be answered
    # RFC 9113 6.8: the sender of a GOAWAY ignores streams the receiver opened above its last stream
    # id, and the receiver retries them elsewhere: this peer's own graceful GOAWAY bounds what it answers.
    own = server.goaway_sent
    ended = sock.fuzz_h2_ended
    for sid in [
        s for s in server.unanswered if s in ended and (last is None or s <= last) and (own is None or s <= own)
    ]:
        server.unanswered.remove(sid)
        try:
            server.conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"0")], end_stream=True)
        except Exception:  # noqa: BLE001 - the proxy reset the stream meanwhile
            continue
    out = server.flush()
    if out:
        sock.peer_send(out)
    return bool(out)


def _credit_h2(sock) -> bool:
    """A downstream HTTP/2 client credits back every DATA byte it read, on the connection and on the
    stream (its request generator never reads, so this peer follows the frames itself). A credit on
    a stream the proxy has closed since is ignored by the proxy (RFC 9113 6.9)."""
    reader = getattr(sock, "settle_h2", None)
    if reader is None:
        reader = sock.settle_h2 = _DataCounter()
    credits = reader.feed(sock.received)
    if not credits:
        return False
    sock.peer_send(b"".join(_window_update(sid, n) for sid, n in credits.items()))
    return True


class _DataCounter:
    """Walks the frames a server sent; counts the DATA bytes (padding included) per stream."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset = 0

    def feed(self, received) -> dict[int, int]:
        credits: dict[int, int] = {}
        while len(received) - self.offset >= 9:
            at = self.offset
            length = int.from_bytes(received[at : at + 3], "big")
            if len(received) - at < 9 + length:
                break
            self.offset = at + 9 + length
            if received[at + 3] == _DATA and length:
                sid = int.from_bytes(received[at + 5 : at + 9], "big") & 0x7FFFFFFF
                credits[sid] = credits.get(sid, 0) + length
                credits[0] = credits.get(0, 0) + length
        return credits


def _window_update(stream_id: int, increment: int) -> bytes:
    return (4).to_bytes(3, "big") + bytes([0x8, 0]) + stream_id.to_bytes(4, "big") + increment.to_bytes(4, "big")
