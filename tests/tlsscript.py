"""Helpers for TLS tests: real ClientHellos from the standard library, re-framed into records,
and a TLS peer over memory BIOs (no tests of its own)."""

import ssl


def client_hello(server_name=None, alpn=(), *, context=None) -> bytes:
    """The first flight of a real TLS client (Python's OpenSSL): its ClientHello records."""
    ctx = context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if context is None:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def records(data: bytes):
    """[(content type, version, fragment), ...] of whole TLS records."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        n = int.from_bytes(data[pos + 3:pos + 5], "big")
        out.append((data[pos], data[pos + 1:pos + 3], data[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return out


def reframe(data: bytes, size: int) -> bytes:
    """The same handshake bytes in records of at most `size` bytes (RFC 8446 5.1 allows it)."""
    (kind, version, _), = {(r[0], r[1], b"") for r in records(data)}
    stream = b"".join(r[2] for r in records(data))
    return b"".join(bytes([kind]) + version + len(stream[i:i + size]).to_bytes(2, "big") + stream[i:i + size]
                    for i in range(0, len(stream), size))
