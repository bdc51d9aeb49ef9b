"""Independent protocol peers for sessions, and the per-request record they keep.

Record API (fuzz/peers/record.py says exactly what is recorded and when a request is finished):

    session.peers.exchanges      [Exchange] in the order clients sent them
    Exchange.request             Message the client sent (method, target, authority, headers, body,
                                 trailers, complete, started_ms/ended_ms)
    Exchange.upstreams           [UpstreamSeen(conn, cluster, endpoint, protocol, stream, request, response)]
    Exchange.response / outcome  Message back to the client / "response" | "reset" | "closed" | None
    Exchange.reset_reason, outcome_ms, finished_sending
    session.peers.unlinked       upstream requests no client request claims
    session.peers.all_understood every byte every client sent was parsed (else some requests are unknown)
"""

from .log import Peers
from .record import H1, H2, ID_HEADER, Exchange, Message, UpstreamSeen

__all__ = ["Peers", "Exchange", "Message", "UpstreamSeen", "H1", "H2", "ID_HEADER"]
