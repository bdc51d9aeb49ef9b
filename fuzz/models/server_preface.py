"""The HTTP/2 server connection preface (RFC 9113 3.4): "The server connection preface consists of a
potentially empty SETTINGS frame that MUST be the first frame the server sends in the HTTP/2
connection." A connection manager that speaks HTTP/2 (codec HTTP2, or AUTO: by prior knowledge in
clear text, by ALPN over TLS) to a client whose first bytes were the client preface answers, if it
answers at all, with a SETTINGS frame (type 4, no ACK flag, stream 0): never with HTTP/1.1 bytes,
however the client's bytes were split into reads (split invariance, proxy/http/codec.py).
"""

from fuzz.oracles import InvariantViolation
from fuzz.peers.h2_wire import PREFACE as CLIENT_PREFACE

SETTINGS, ACK = 0x4, 0x1


def first_frame_problem(received: bytes) -> str | None:
    """What is wrong with the first bytes a server sent, as far as they go (None: nothing yet)."""
    if received.startswith(b"HTTP/"):
        return "an HTTP/1.x response"
    if len(received) > 3 and received[3] != SETTINGS:
        return f"a frame of type {received[3]}"
    if len(received) > 4 and received[4] & ACK:
        return "a SETTINGS acknowledgement"
    if len(received) >= 9 and int.from_bytes(received[5:9], "big") & 0x7FFF_FFFF:
        return "a SETTINGS frame on a stream"
    return None


def check(connections) -> None:
    """`connections`: (index, codec the connection's HCM speaks or None, the first bytes its client
    sent as protocol, the first bytes it received) per downstream connection."""
    for index, codec, sent, received in connections:
        if codec not in ("AUTO", "HTTP2") or not sent.startswith(CLIENT_PREFACE):
            continue
        problem = first_frame_problem(received)
        if problem is not None:
            raise InvariantViolation(
                "h2_server_preface",
                f"client {index} opened with the HTTP/2 preface on a {codec} connection manager and was "
                f"answered with {problem}: {received[:24]!r}",
                judged="proxy/http/codec_select.py:AutoServerCodec.receive_data",
                expected="a SETTINGS frame first (RFC 9113 3.4)",
                observed=received[:24],
            )
