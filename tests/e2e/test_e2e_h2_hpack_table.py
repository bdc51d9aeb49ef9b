"""An HTTP/2 client's SETTINGS_HEADER_TABLE_SIZE is the most its HPACK decoder accepts; the proxy's
encoder may use less (RFC 7541 4.2, RFC 9113 6.5.2), and nghttp2 (Envoy's codec) keeps its own at
4 KiB whatever the client allows. Found black-box (round 4): a client announcing 4 GiB (h2load
--header-table-size=1G, or a raw SETTINGS) made the proxy's encoder keep every response header it
sent on that connection: 20,000 responses with a unique x-request-id took 63.6 s against 20.4 s
(hpack searches its table linearly, so each response cost more than the last) and the table grew
without bound."""

import socket
import socketserver
import threading
from itertools import count

import hpack
from hyperframe.frame import Frame, HeadersFrame, SettingsFrame

from conftest import LOOPBACK
from e2e.wire import get, h2
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _start


class _UniqueIdUpstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(socketserver.BaseRequestHandler):
    ids = count()

    def handle(self) -> None:
        held = b""
        while True:
            while b"\r\n\r\n" not in held:
                data = self.request.recv(65536)
                if not data:
                    return
                held += data
            _, held = held.split(b"\r\n\r\n", 1)
            rid = b"%064d" % next(self.ids)  # what many upstreams add to every response
            self.request.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-request-id: %s\r\n\r\nok" % rid)


def test_a_client_allowing_a_4_gib_header_table_does_not_grow_the_proxys(proxy_process, tmp_path):
    upstream = _UniqueIdUpstream((LOOPBACK, 0), _Handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        _, address = _start(proxy_process, tmp_path, web_config(upstream.server_address[1], max_connections=8))
        decoder = hpack.Decoder()
        decoder.max_allowed_table_size = 2**32 - 1  # what the client's SETTINGS says it accepts
        streams = range(1, 2 * 60, 2)
        hello = h2(SettingsFrame(0, settings={0x1: 2**32 - 1}).serialize())
        wire, ended = b"", set()
        with socket.create_connection(address, timeout=10) as s:
            s.sendall(hello + b"".join(get(sid, b"/id") for sid in streams))
            while len(ended) < len(streams):
                data = s.recv(65536)
                assert data, "the proxy closed the connection"
                wire += data
                ended |= _ended_streams(wire)
        table_sizes = []
        for frame in _frames(wire):
            if isinstance(frame, HeadersFrame):
                decoder.decode(frame.data, raw=True)
                table_sizes.append(decoder.header_table_size)
        # Before: the first block set the table to 4,294,967,295 bytes and every x-request-id stayed in it.
        assert max(table_sizes) <= 4096, max(table_sizes)
        assert decoder.header_table._current_size <= 4096
    finally:
        upstream.shutdown()
        upstream.server_close()


def _frames(wire: bytes):
    pos = 0
    while pos + 9 <= len(wire):
        frame, length = Frame.parse_frame_header(memoryview(wire[pos : pos + 9]))
        if pos + 9 + length > len(wire):
            return
        frame.parse_body(memoryview(wire[pos + 9 : pos + 9 + length]))
        pos += 9 + length
        yield frame


def _ended_streams(wire: bytes) -> set:
    return {f.stream_id for f in _frames(wire) if f.stream_id and "END_STREAM" in f.flags}
