"""An echo upstream for tests and the examples: every byte read is written back.

    python -m proxy.tools.echo --port 10001 [--host 127.0.0.1] [--rate BYTES_PER_S] [--sockbuf BYTES]

It honours backpressure (stops reading while its writes are blocked, so a slow reader on the
far side slows the sender), supports half close (after the peer's end of stream it writes
what is pending, then shuts down its own write side), and with `--rate` reads at most that
many bytes per second. `--sockbuf` shrinks the kernel's socket buffers of accepted connections
(SO_RCVBUF/SO_SNDBUF), so that backpressure reaches the proxy without megabytes parked in the
kernel in between. `EchoServer` counts connections and bytes, which tests read.
Port 0 picks a free port; the bound address is printed as `echo: listening on HOST:PORT`.
"""

import argparse
import asyncio
import signal
import socket
import sys


class _EchoProtocol(asyncio.BufferedProtocol):
    def __init__(self, server: "EchoServer") -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        # A small receive buffer when throttled keeps the rate smooth.
        size = 64 * 1024 if not server.rate else max(1, min(64 * 1024, server.rate // 10))
        self._buf = bytearray(size)
        self._write_blocked = False
        self._throttled = False
        self._reading = True
        self._eof = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=64 * 1024)
        self.server.connections_total += 1
        self.server.connections_active += 1

    def get_buffer(self, sizehint):
        return self._buf

    def buffer_updated(self, nbytes) -> None:
        self.server.bytes_received += nbytes
        assert self.transport is not None, "bytes arrive on a made connection"
        self.transport.write(bytes(self._buf[:nbytes]))
        if self.server.rate:
            self._throttled = True
            asyncio.get_running_loop().call_later(nbytes / self.server.rate, self._unthrottle)
        self._update_reading()

    def _unthrottle(self) -> None:
        self._throttled = False
        self._update_reading()

    def pause_writing(self) -> None:
        self._write_blocked = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_blocked = False
        self._update_reading()

    def _update_reading(self) -> None:
        t = self.transport
        if t is None or t.is_closing() or self._eof:
            return
        want = not self._write_blocked and not self._throttled
        if want != self._reading:
            self._reading = want
            (t.resume_reading if want else t.pause_reading)()

    def eof_received(self):
        self._eof = True
        self.server.eofs_received += 1
        assert self.transport is not None, "EOF arrives on a made connection"
        self.transport.write_eof()  # after whatever is still queued
        return True  # close once the peer closes too

    def connection_lost(self, exc) -> None:
        self.server.connections_active -= 1


class EchoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, rate: int = 0, sockbuf: int = 0) -> None:
        if rate < 0 or sockbuf < 0:
            raise ValueError("rate and sockbuf must be >= 0")
        self.host, self.port, self.rate, self.sockbuf = host, port, rate, sockbuf
        self.connections_total = 0
        self.connections_active = 0
        self.bytes_received = 0
        self.eofs_received = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        if not self.sockbuf:
            self._server = await loop.create_server(
                lambda: _EchoProtocol(self), self.host, self.port, reuse_address=True
            )
        else:
            # Set on the listening socket before listen(): accepted sockets inherit the sizes.
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.sockbuf)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sockbuf)
                sock.bind((self.host, self.port))
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self._server = await loop.create_server(lambda: _EchoProtocol(self), sock=sock)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self.host, self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


async def _main(args) -> int:
    server = EchoServer(args.host, args.port, args.rate, args.sockbuf)
    try:
        host, port = await server.start()
    except OSError as exc:
        print(f"echo: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"echo: listening on {host}:{port}", file=sys.stderr, flush=True)
    await stop.wait()
    await server.stop()
    return 0


def _rate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes per second: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be in 0..65535")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy.tools.echo", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, required=True, help="0 picks a free port")
    parser.add_argument("--rate", type=_rate, default=0, help="read at most this many bytes/s (0: no limit)")
    parser.add_argument(
        "--sockbuf", type=_rate, default=0, help="kernel socket buffer size of accepted connections (0: the OS default)"
    )
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
