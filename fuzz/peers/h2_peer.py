"""Strict HTTP/2 peers: a downstream client and an upstream server, each an h2 connection of its own
that reads every byte the proxy sends it, behind an independent wire monitor (h2_wire.H2Monitor).

Each peer advertises the SETTINGS the fuzzer chose (`settings_from_byte`), gives back what it
consumed (WINDOW_UPDATE for every DATA byte it reads; with an INITIAL_WINDOW_SIZE of 0 it opens a
stream's window once it has its headers; one that `withholds_credit` gives nothing back until the
session settles), answers PINGs and SETTINGS as h2 does, and reports as
InvariantViolation whatever the proxy does that the peer's own state machine refuses:
h2_peer_<h2 exception>, e.g. h2_peer_flow_control_error, h2_peer_too_many_streams_error,
h2_peer_frame_too_large_error, h2_peer_denial_of_service_error (a header list over the advertised
MAX_HEADER_LIST_SIZE), h2_peer_protocol_error (bad pseudo-headers, frames on closed streams...),
after the monitor's own h2_wire_* checks. A GOAWAY is kept from h2 (which would refuse every later
frame, RFC 9113 6.8 lets streams up to its last id complete) and handled here.

Bytes the fuzzer sends raw on the same connection desynchronise the peer from the proxy: the peer
is `tainted` from then on and judges nothing more.
"""

import re

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from h2.settings import SettingCodes

from proxy.http._h2_quiet import quiet

from ..oracles import InvariantViolation
from .h2_wire import GOAWAY, PREFACE, SETTINGS, WINDOW_UPDATE, H2Monitor
from .record import H2, Message

# Small values, so that the proxy meets every limit with the short exchanges of a session.
MAX_CONCURRENT_STREAMS = (None, 1, 2, 3)
INITIAL_WINDOW_SIZE = (None, 0, 1, 16, 1024, 65_535)
MAX_FRAME_SIZE = (None, 16_384, 16_385, 65_536)
MAX_HEADER_LIST_SIZE = (None, 4_096)
# Past h2's default (the session's window ops): a peer ready for a large transfer, up to RFC 9113's
# maximum, so that what the proxy holds is bounded by its own buffer limits, not by the peer.
LARGE_WINDOWS = (1 << 17, 1 << 20, (1 << 31) - 1)
# What h2 is told of a larger window: at the proxy's ACK, h2 adds the change to every open stream's
# window, which 2^31-1 would push past the maximum (a FLOW_CONTROL_ERROR of its own making) for a
# stream already credited; 1 GiB is more than any session sends on one stream.
H2_LENIENT_WINDOW = 1 << 30
MAX_WINDOW = 2**31 - 1
OPEN_WINDOW = 16_384  # given to a stream whose initial window is 0, once its headers are in
# Settling: the windows of a peer that now reads eagerly (a window of 1 or 16 bytes, fine for the
# actions, would move a buffered megabyte a few bytes per settle round).
SETTLE_WINDOW = 1 << 20


def settings_from_byte(b: int) -> dict:
    """SETTINGS chosen by one input byte (None entries keep h2's defaults)."""
    picks = (
        (SettingCodes.MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS[b & 3]),
        (SettingCodes.INITIAL_WINDOW_SIZE, INITIAL_WINDOW_SIZE[((b >> 2) & 7) % len(INITIAL_WINDOW_SIZE)]),
        (SettingCodes.MAX_FRAME_SIZE, MAX_FRAME_SIZE[(b >> 5) & 3]),
        (SettingCodes.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE[b >> 7]),
    )
    return {k: v for k, v in picks if v is not None}


def large_window(b: int) -> int:
    return LARGE_WINDOWS[(b & 0x7F) % len(LARGE_WINDOWS)]


# Bit 7 of the same byte: the peer also announces the largest HPACK table there is (2^32-1), as a
# client asking the proxy to remember every field it sends; the encoder must keep its own bound
# (h2_wire_hpack_table_too_large; CVE-2016-6581's class of decoder-chosen memory).
HUGE_HEADER_TABLE = 2**32 - 1


def large_transfer_settings(b: int) -> dict:
    """The SETTINGS of a peer ready for large transfers, from the window ops' byte."""
    settings = {SettingCodes.INITIAL_WINDOW_SIZE: large_window(b)}
    if b & 0x80:
        settings[SettingCodes.HEADER_TABLE_SIZE] = HUGE_HEADER_TABLE
    return settings


def withholds_credit(b: int) -> bool:
    """The two window choices of the settings byte past INITIAL_WINDOW_SIZE's table (6: h2's default
    window, 7: a window of 0) make a client that reads what the proxy sends but gives no window back
    while the session's actions run (a stalled application, or the slow-read attack of CVE-2019-9517:
    the proxy must bound what it buffers for it, by per_connection_buffer_limit_bytes). Settling gives
    back what it withheld (H2Peer.release_credit)."""
    return ((b >> 2) & 7) >= len(INITIAL_WINDOW_SIZE)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class StrictH2Connection(h2.connection.H2Connection):
    """An h2 connection that every byte in and out of passes through the peer's monitor, whoever
    drives it (the payload templates, the settle phase): received bytes are judged frame by
    frame before h2 sees them, and every event goes to the peer's records."""

    def __init__(self, peer, client_side: bool) -> None:
        # A client sends what hostile clients send (fuzz/hostile.py): h2 leaves its fields as they are.
        # Inbound cookie crumbs stay crumbs (h2 would join an empty one into "a; " and refuse that).
        super().__init__(
            h2.config.H2Configuration(
                client_side=client_side,
                header_encoding=None,
                validate_inbound_headers=True,
                normalize_inbound_headers=False,
                validate_outbound_headers=not client_side,
                normalize_outbound_headers=not client_side,
            )
        )
        quiet(self)  # no repr(frame) built per received frame for h2's log, which is off
        self.peer = peer
        self._queued = bytearray()
        # The limits this peer advertises are judged by the monitor, which applies them at the
        # proxy's ACK of each SETTINGS frame; h2 applies a pending value at the first ACK it sees,
        # even the ACK of an earlier frame, so its own checks of them are lifted.
        self.max_inbound_frame_size = 2**24 - 1
        self.decoder.max_header_list_size = 2**31

    def data_to_send(self, amount=None):
        out = bytes(self._queued) + super().data_to_send()
        self._queued.clear()
        if out:
            self.peer.sent_by_us(out)
        return out

    def update_settings(self, new_settings):
        """SETTINGS go out as a frame of their own, past h2's bookkeeping (see __init__)."""
        self._queued += super().data_to_send()
        payload = b"".join(int(k).to_bytes(2, "big") + int(v).to_bytes(4, "big") for k, v in new_settings.items())
        self._queued += len(payload).to_bytes(3, "big") + bytes([SETTINGS, 0]) + bytes(4) + payload
        window = new_settings.get(SettingCodes.INITIAL_WINDOW_SIZE)
        if window is not None:  # a window raised by SETTINGS is open (RFC 9113 6.9.2)
            self.peer.zero_window = window == 0
            lenient = min(window, H2_LENIENT_WINDOW)
            if lenient > self.local_settings.initial_window_size:
                # h2 refuses DATA past the windows it thinks it granted: it learns a larger one (from
                # the proxy's next ACK); a smaller one is the monitor's to enforce.
                self.local_settings[SettingCodes.INITIAL_WINDOW_SIZE] = lenient

    def graceful_goaway(self) -> int:
        """GOAWAY(NO_ERROR) naming the highest stream the peer opened as the last this side processes
        (RFC 9113 6.8: a server shutting down gracefully), past h2's bookkeeping: h2 would close the
        connection, while those streams are still answered. Returns the last stream id."""
        self._queued += super().data_to_send()
        last = self.highest_inbound_stream_id
        self._queued += bytes([0, 0, 8, GOAWAY, 0]) + bytes(4) + last.to_bytes(4, "big") + bytes(4)
        self.peer.goaway_sent = last if self.peer.goaway_sent is None else min(last, self.peer.goaway_sent)
        return last

    def receive_data(self, data):
        return self.peer.judge(data)

    # What this side sends is recorded as it is sent (after h2 accepted it).
    def send_headers(self, stream_id, headers, end_stream=False, *args, **kwargs):
        super().send_headers(stream_id, headers, end_stream, *args, **kwargs)
        self.peer.sent_headers(stream_id, headers, end_stream)

    def send_data(self, stream_id, data, end_stream=False, *args, **kwargs):
        super().send_data(stream_id, data, end_stream, *args, **kwargs)
        self.peer.sent_data(stream_id, bytes(data), end_stream)

    def reset_stream(self, stream_id, error_code=0):
        super().reset_stream(stream_id, error_code)
        self.peer.sent_reset(stream_id)

    def feed_frame(self, frame: bytes) -> list:
        return super().receive_data(frame)


class H2Peer:
    """The shared machinery; `on_event(ev, now)` is the role's."""

    client_side = True

    def __init__(self, label: str, clock, settings: dict | None = None) -> None:
        self.label = label
        self.clock = clock
        # The proxy as an upstream's client is its pool, which waits for the upstream's stream limit.
        self.monitor = H2Monitor(
            judged_is_client=not self.client_side, label="proxy", one_stream_before_settings=not self.client_side
        )
        self.tainted = False
        # Raw bytes of the fuzzer's among what this peer sent: the other side reads none of its later
        # frames as frames. (A harness cutting what it reads taints it too, but its frames still go out
        # whole: they are still recorded as sent.)
        self.sends_desynced = False
        self.goaway: tuple | None = None  # (last stream id, error code) the proxy sent
        self.goaway_sent: int | None = None  # the last stream id of a graceful GOAWAY this peer sent
        self.streams: dict[int, Message] = {}  # the messages being received, by stream
        self._windowed: set[int] = set()
        self._expected = bytearray()  # flushed, not yet seen on the socket
        self._foreign = bytearray()  # bytes on the socket we did not make, up to a frame
        self._preface_fed = False
        self.zero_window = False
        self.withhold = False  # reads, but credits nothing back (withholds_credit)
        self._withheld: dict[int, int] = {}  # DATA bytes read and not credited, by stream
        self.conn = StrictH2Connection(self, self.client_side)
        self.conn.initiate_connection()
        if settings:
            self.advertise(settings)

    def advertise(self, settings: dict) -> None:
        """Send `settings`; an INITIAL_WINDOW_SIZE past h2's default raises the connection's window to
        it too (SETTINGS covers streams only, RFC 9113 6.9.2). Frames wait for flush()."""
        self.conn.update_settings(settings)
        window = settings.get(SettingCodes.INITIAL_WINDOW_SIZE, 0)
        if window > 65_535:
            self._increment(window - self.conn.inbound_flow_control_window, None)

    # -- bytes out ------------------------------------------------------------------------------
    def flush(self) -> bytes:
        return self.conn.data_to_send()

    def sent_by_us(self, out: bytes) -> None:
        if not self.tainted:
            self.monitor.peer(out)
        if not self.sends_desynced:
            self._expected += out

    def check_sent(self, data: bytes) -> None:
        """`data` appeared on the socket from the peer's side. Frames the peer flushed are known; a
        WINDOW_UPDATE someone else wrote (a settling helper crediting DATA) is learned by the
        monitor and by h2's inbound windows; anything else desynchronises: the peer is tainted."""
        if self.sends_desynced:
            return
        buf, expected = self._foreign, self._expected
        buf += data
        if expected.startswith(PREFACE) and buf.startswith(PREFACE):
            del expected[: len(PREFACE)], buf[: len(PREFACE)]
        while len(buf) >= 9:
            size = 9 + int.from_bytes(buf[:3], "big")
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            del buf[:size]
            if expected.startswith(frame):
                del expected[:size]
            elif frame[3] == WINDOW_UPDATE and size == 13:
                self._foreign_credit(frame)
            else:
                self.tainted = self.sends_desynced = True
                return
        if (
            buf
            and not expected.startswith(buf)
            and not (len(buf) < 4 or buf[:4] == b"\0\0\x04" + bytes([WINDOW_UPDATE]))
        ):
            self.tainted = self.sends_desynced = True  # the start of a frame we did not make (raw bytes)

    def _foreign_credit(self, frame: bytes) -> None:
        self.monitor.peer(frame)
        sid = int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
        inc = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
        try:
            if sid == 0:
                self.conn._inbound_flow_control_window_manager.window_opened(inc)
            elif sid in self.conn.streams:
                self.conn.streams[sid]._inbound_window_manager.window_opened(inc)
        except h2.exceptions.FlowControlError:
            pass  # past 2^31-1: the sender broke the window (RFC 9113 6.9.1), the receiver's to refuse

    # -- bytes in -------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list:
        return self.conn.receive_data(data)

    def judge(self, data: bytes) -> list:
        """The proxy's bytes: the monitor's checks, then h2's frame by frame; the events."""
        if not getattr(self, "reads_proxy_output", True):
            self.tainted = True  # a client whose reads a harness's write filter cut (downstream.Client)
            if not getattr(getattr(self, "sock", None), "reads_altered", False):
                self.sends_desynced = True  # clear text to a chain that terminates TLS: no frame of it is read
        if self.tainted or not data:
            return []
        now = self.clock()
        events = []
        if not self.client_side and not self._preface_fed:
            self._preface_fed = True  # the monitor takes the client preface off; h2 wants it
            events += self.conn.feed_frame(PREFACE)
        frames = self.monitor.judged(data)
        for (ftype, flags, sid, payload), header_list_limit in zip(frames, self.monitor.header_list_limits):
            if ftype == GOAWAY:
                self._goaway(payload, now)
                continue
            if self.goaway is not None and self.goaway[1]:
                continue  # the connection is dead
            frame = len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload
            try:
                fresh = self.conn.feed_frame(frame)
            except h2.exceptions.ProtocolError as e:
                raise InvariantViolation(
                    f"h2_peer_{_snake(type(e).__name__)}",
                    f"{self.label} refused the proxy's frame type {ftype} on stream {sid}: {e}",
                ) from None
            for ev in fresh:
                if isinstance(ev, h2.events.DataReceived) and ev.flow_controlled_length:
                    self._consume(ev.stream_id, ev.flow_controlled_length)
                elif getattr(ev, "headers", None):
                    self._check_header_list(ev, header_list_limit)
                self.on_event(ev, now)
            events += fresh
        self._open_windows()
        return events

    def _check_header_list(self, ev, limit) -> None:
        """RFC 9113 6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE (`limit`, as in effect at the block's last
        frame): names, values and 32 bytes per field."""
        size = sum(len(n) + len(v) + 32 for n, v in ev.headers)
        if limit is not None and size > limit:
            raise InvariantViolation(
                "h2_wire_header_list_too_large",
                f"{self.label}: the proxy sent a {size}-byte header list on stream "
                f"{ev.stream_id}, the peer allows {limit}",
            )

    def _consume(self, sid: int, n: int) -> None:
        if self.withhold:
            self._withheld[sid] = self._withheld.get(sid, 0) + n
            return
        self._credit(sid, n)

    def release_credit(self) -> None:
        """Stop withholding: credit back what was read, open the windows owed (frames wait for flush())."""
        if not self.withhold:
            return
        self.withhold = False
        withheld, self._withheld = self._withheld, {}
        for sid, n in withheld.items():
            self._credit(sid, n)
        self._open_windows()

    def open_for_settling(self) -> None:
        """Settling: a peer that reads everything also gives room for it: a connection or open stream
        window below half of SETTLE_WINDOW is raised to it, as a client ready for the whole response
        does (frames wait for flush()). The windows are the monitor's count of what the proxy may
        send (h2's own may be larger: a window op's raise it is told of, H2_LENIENT_WINDOW), and an
        increment never takes h2's past 2^31-1."""
        conn, monitor = self.conn, self.monitor
        real = monitor.conn_window if not self.tainted else conn.inbound_flow_control_window
        if real < SETTLE_WINDOW // 2:
            self._increment(SETTLE_WINDOW - real, None)
        for sid, stream in list(conn.streams.items()):
            judged = monitor.streams.get(sid)
            window = judged.window if judged is not None and not self.tainted else stream.inbound_flow_control_window
            if window < SETTLE_WINDOW // 2 and not stream.closed:
                try:
                    self._increment(SETTLE_WINDOW - window, sid)
                except h2.exceptions.ProtocolError:
                    pass  # a state in which h2 sends no WINDOW_UPDATE (the stream ends meanwhile)

    def _increment(self, n: int, sid: int | None) -> None:
        held = (
            self.conn.inbound_flow_control_window if sid is None else self.conn.streams[sid].inbound_flow_control_window
        )
        n = min(n, MAX_WINDOW - held)
        if n > 0:
            self.conn.increment_flow_control_window(n, stream_id=sid)

    def _credit(self, sid: int, n: int) -> None:
        # Never past 2^31-1 (RFC 9113 6.9.1): credit withheld while a window op raised the window to
        # the maximum gives back only the room left (_increment).
        self._increment(n, None)
        try:
            self._increment(n, sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.NoSuchStreamError, KeyError):
            pass  # KeyError: h2 has already forgotten a stream closed while its credit was withheld

    def _open_windows(self) -> None:
        if not self.zero_window or self.withhold:
            return
        for sid in self.streams.keys() - self._windowed:
            self._windowed.add(sid)
            try:
                self.conn.increment_flow_control_window(OPEN_WINDOW, stream_id=sid)
            except (h2.exceptions.StreamClosedError, h2.exceptions.NoSuchStreamError, KeyError):
                pass  # KeyError: h2 has already forgotten a stream that closed before its window opened

    def _goaway(self, payload: bytes, now: int) -> None:
        last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        code = int.from_bytes(payload[4:8], "big")
        self.goaway = (last, code)
        self.on_goaway(last, code, now)

    def on_event(self, ev, now: int) -> None:
        raise NotImplementedError

    def sent_headers(self, sid: int, headers, end_stream: bool) -> None:
        pass

    def sent_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        pass

    def sent_reset(self, sid: int) -> None:
        pass

    def on_goaway(self, last: int, code: int, now: int) -> None:
        pass


def error_name(code) -> str:
    try:
        return h2.errors.ErrorCodes(int(code)).name
    except ValueError:
        return f"error {int(code)}"


def request_message(headers, now: int) -> Message:
    """A request's head out of an HTTP/2 header block (pseudo-headers to their fields)."""
    pseudo, rest = fields(headers)
    return Message(
        method=pseudo.get(b":method", b""),
        target=pseudo.get(b":path", b""),
        authority=pseudo.get(b":authority", b""),
        scheme=pseudo.get(b":scheme", b""),
        headers=rest,
        started_ms=now,
    )


def fields(headers) -> tuple[dict, list]:
    """(pseudo-headers, other fields) of an h2 header block, names and values as bytes."""
    pseudo, rest = {}, []
    for n, v in headers:
        n, v = bytes(n), bytes(v)
        if n.startswith(b":"):
            pseudo[n] = v
        else:
            rest.append((n, v))
    return pseudo, rest


PROTOCOL = H2
