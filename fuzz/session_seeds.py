"""Seed corpus of the session harness, written as readable scripts.

    python -m fuzz.session_seeds [--out corpus/session]

Each seed is an exchange a real client and upstream would have (a TCP echo with half
close, a slow reader, a failed upstream, HTTP/1.1 requests and pipelines, HTTP/2
streams, smuggling attempts, rapid resets), encoded with fuzz.session.encode_actions for
every configuration of the pool it applies to.
"""

import argparse
import hashlib
from pathlib import Path

from fuzz.session import Action as A, ConfigPool, encode_actions

TCP = {
    "echo_half_close": [A("upstream_connect"), A("send", payload=b"ping\n" * 20, end_stream=True),
                        A("upstream_read"), A("upstream_send", payload=b"PONG\n" * 20, end_stream=True), A("read")],
    "slow_reader": [A("upstream_connect"), A("upstream_send", payload=b"x" * 4096), A("read", value=7),
                    A("upstream_send", payload=b"y" * 4096), A("read", value=100), A("advance", value=1_000), A("read")],
    "upstream_refused": [A("upstream_fail"), A("send", payload=b"lost"), A("read")],
    "idle_timeout": [A("upstream_connect"), A("send", payload=b"a"), A("upstream_read"), A("advance", value=120_000)],
    "client_reset": [A("upstream_connect"), A("send", payload=b"abc"), A("reset"), A("upstream_read")],
    "many_clients": [A("connect", value=8), A("connect", value=16), A("upstream_connect", 0), A("upstream_connect", 1),
                     A("send", 1, payload=b"one"), A("send", 2, payload=b"two", end_stream=True), A("upstream_read", 1),
                     A("upstream_read", 0)],
    "delayed_first_byte": [A("send", payload=b"early"), A("advance", value=100), A("advance", value=1_000),
                           A("upstream_connect"), A("upstream_read")],
}
HTTP = {
    "h1_get": [A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"), A("upstream_connect"), A("upstream_read"),
               A("upstream_http", value=0, payload=b"\x00\x10\x00\x00hello world"), A("read")],
    "h1_post_chunked": [A("send_http", value=0, payload=b"\x01\x01\x01\x20\x00\x00\x00\x00" + b"body" * 8),
                        A("upstream_connect"), A("upstream_read"), A("upstream_http", value=0, payload=b"\x00\x05\x01\x00abcdef"), A("read")],
    "h1_pipeline": [A("send_http", value=1, payload=b"\x03\x00\x01\x00\x00"), A("upstream_connect"), A("upstream_read"),
                    A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"), A("read"), A("upstream_http", value=0, payload=b"\x03"),
                    A("read")],
    "h1_smuggling_cl_te": [A("send_http", value=2, payload=b"\x00"), A("upstream_connect"), A("read")],
    "h1_smuggling_chunk_hex": [A("send_http", value=2, payload=b"\x07"), A("upstream_connect"), A("read")],
    "h1_timeout": [A("send", payload=b"GET / HTTP/1.1\r\nHost: x\r\n"), A("advance", value=30_000), A("advance", value=120_000), A("read")],
    "h2_get": [A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x00"), A("upstream_connect"), A("upstream_read"),
               A("upstream_http", value=0, payload=b"\x00\x04\x00\x00ok"), A("upstream_http", value=1, payload=b"\x00\x03abc"), A("read")],
    "h2_rapid_reset": [A("send_http", value=3, payload=b"\x00\x00\x00\x00\x00\x01")] * 12 + [A("read")],
    "h2_ping_flood": [A("send_http", value=4, payload=b"\x00pingpong")] * 12 + [A("read")],
    "upstream_reset_mid_response": [A("send_http", value=0, payload=b"\x00"), A("upstream_connect"), A("upstream_read"),
                                    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
                                    A("upstream_reset"), A("read")],
}


def write_seeds(out: Path, pool: ConfigPool) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, name in enumerate(pool.names):
        http = any("http_connection_manager" in chain.filter_names
                   for listener in pool.built[index].listeners for chain in listener.filter_chains)
        for script_name, script in (HTTP if http else TCP).items():
            for read_size in (0, 2):
                data = encode_actions(script, config=index, read_size=read_size)
                digest = hashlib.sha1(data).hexdigest()[:12]
                (out / f"{Path(name).stem}-{script_name}-r{read_size}-{digest}").write_bytes(data)
                count += 1
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.session_seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "corpus" / "session"))
    args = parser.parse_args(argv)
    n = write_seeds(Path(args.out), ConfigPool.default())
    print(f"wrote {n} seeds to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
