"""An HTTP/1.1 upstream that keeps every byte the proxy sends it: the catalog's witness of what was
forwarded. Each request h11 parses is answered `200 ok`; bytes h11 refuses get a 400 and a close
(and stay recorded: an upstream that cannot parse what the proxy forwarded is itself a finding).

    up = RecordingUpstream(); up.start()            # on its own loop thread; up.port
    mark = up.mark(); ...; up.settle(); up.since(mark)   # {connection number: bytes received}
"""

import asyncio

import h11

from conftest import LOOPBACK, LoopThread

_OK = h11.Response(status_code=200, headers=[(b"content-length", b"2"), (b"content-type", b"text/plain")])


class _Recording(asyncio.Protocol):
    def __init__(self, upstream: "RecordingUpstream") -> None:
        self.up = upstream
        self.number = upstream.connections = upstream.connections + 1
        self.h11 = h11.Connection(h11.SERVER)
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.up.chunks.append((self.number, data))
        self.h11.receive_data(data)
        self._answer()

    def eof_received(self):
        self.h11.receive_data(b"")
        return False

    def _answer(self) -> None:
        try:
            while True:
                ev = self.h11.next_event()
                if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                    if ev is h11.PAUSED and self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                        self.h11.start_next_cycle()
                        continue
                    return
                if isinstance(ev, h11.EndOfMessage):
                    self.transport.write(
                        self.h11.send(_OK) + self.h11.send(h11.Data(data=b"ok")) + self.h11.send(h11.EndOfMessage())
                    )
        except h11.RemoteProtocolError:
            self.up.refused += 1
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()
        except h11.LocalProtocolError:  # the proxy asked for close: h11 will not answer again
            self.transport.close()


class RecordingUpstream:
    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []  # (connection number, bytes) in arrival order
        self.connections = 0
        self.refused = 0
        self.port = 0
        self._lt: LoopThread | None = None
        self._server = None

    def start(self) -> "RecordingUpstream":
        self._lt = LoopThread("recording-upstream")

        async def listen():
            self._server = await asyncio.get_running_loop().create_server(lambda: _Recording(self), LOOPBACK, 0)
            return self._server.sockets[0].getsockname()[1]

        self.port = self._lt.run(listen())
        return self

    def mark(self) -> int:
        return self._lt.call(lambda: len(self.chunks))

    def settle(self) -> None:
        """Two rounds through the upstream's loop: bytes already in its sockets' buffers when this is
        called are recorded when it returns (round one runs before the loop's next poll, round two
        after the reads that poll found)."""
        for _ in range(2):
            self._lt.call(lambda: None)

    def since(self, mark: int) -> dict[int, bytes]:
        chunks = self._lt.call(lambda: list(self.chunks[mark:]))
        out: dict[int, bytes] = {}
        for number, data in chunks:
            out[number] = out.get(number, b"") + data
        return out

    def stop(self) -> None:
        async def close():
            self._server.close()

        self._lt.run(close())
        self._lt.close()
