"""The admin endpoint, an HTTP connection manager with Envoy's defaults, ends a request whose head
stops arriving after the stream idle timeout (a 408, then the close), so a client that sends half a
request line and waits (slowloris) cannot hold admin connections open for good. Live, in this
process: a Server with an admin listener on 127.0.0.1, the timeout shortened to 0.3 s."""

import asyncio

from _live import check, in_memory, ok, tcp_config

import proxy.admin
from proxy.server import Server

proxy.admin.STREAM_IDLE_TIMEOUT_S = 0.3


async def main():
    built = in_memory(tcp_config(9000, admin=True))[0]
    server = Server(built)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection(*server.admin_address)
        writer.write(b"GET /sta")  # half a request line, then nothing
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(), 3.0)  # until the admin closes
            closed = True
        except asyncio.TimeoutError:
            answer, closed = b"", False
        writer.close()
        return closed, answer
    finally:
        await server.stop(0.1)


closed, answer = asyncio.run(main())
check(closed, "3 s after half a request line the admin still held the connection open (stream idle timeout 0.3 s)")
first_line = answer.split(b"\r\n")[0].decode(errors="replace")
ok(f"the admin ended the stalled request head: {first_line or 'closed'}")
