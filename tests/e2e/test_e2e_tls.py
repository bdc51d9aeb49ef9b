"""TLS and listener filters live: the proxy as a process, real clients (curl over HTTP/2 with ALPN,
openssl s_client with SNI, Python's ssl), the test PKI made at test time."""

import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import LOOPBACK, connect, free_port, recv_all

from fuzz.test_pki import ensure

PKI = ensure()
CERT = {
    "certificate_chain": {"filename": str(PKI / "server.pem")},
    "private_key": {"filename": str(PKI / "server.key")},
}
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def start(tmp_path, proxy_process, listeners, clusters=(), admin=False):
    config = {"listeners": listeners, "clusters": list(clusters)}
    if admin:
        config["admin"] = {"address": {"host": LOOPBACK, "port": 0}}
    path = tmp_path / "proxy.json"
    path.write_text(json.dumps(config))
    proxy = proxy_process(path)
    proxy.wait_ready()
    return proxy


def https_listener(port, *, require=None, alpn=("h2", "http/1.1"), rbac=None):
    tls = {"common_tls_context": {"tls_certificates": [CERT], "alpn_protocols": list(alpn)}}
    if require is not None:
        tls["common_tls_context"]["validation_context"] = {"trusted_ca": {"filename": str(PKI / "ca.pem")}}
        tls["require_client_certificate"] = require
    hcm = {
        "codec": "AUTO",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "hello over TLS\n"}}
                    ],
                }
            ]
        },
    }
    if rbac:
        hcm["http_filters"] = [{"rbac": rbac}]
    return {
        "name": "https_in",
        "address": {"host": LOOPBACK, "port": port},
        "filter_chains": [{"tls_context": tls, "filters": [{"http_connection_manager": hcm}]}],
    }


def curl(port, *args, path="/"):
    cmd = [
        "curl",
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        str(PKI / "ca.pem"),
        "-o",
        "-",
        "-w",
        "\n%{http_code} %{http_version}",
        *args,
        f"https://localhost:{port}{path}",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@needs_curl
def test_curl_http2_over_tls_negotiates_h2_by_alpn(tmp_path, proxy_process):
    port = free_port()
    start(tmp_path, proxy_process, [https_listener(port)])
    out = curl(port, "--http2")
    assert out.returncode == 0, out.stderr
    body, status = out.stdout.rsplit("\n", 1)
    assert body == "hello over TLS\n" and status == "200 2"
    out = curl(port, "--http1.1")  # ALPN http/1.1: the AUTO codec follows
    assert out.stdout.rsplit("\n", 1)[1] == "200 1.1", out.stderr


@needs_curl
def test_mtls_required_accepts_the_trusted_client_and_refuses_the_others(tmp_path, proxy_process):
    port = free_port()
    rbac = {
        "action": "ALLOW",
        "policies": [
            {
                "name": "spiffe",
                "principals": [{"authenticated": {"principal_name": {"exact": "spiffe://proxyfuzz.test/client"}}}],
            }
        ],
    }
    start(tmp_path, proxy_process, [https_listener(port, require=True, rbac=rbac)])
    good = curl(port, "--cert", str(PKI / "client.pem"), "--key", str(PKI / "client.key"))
    assert good.returncode == 0 and good.stdout.endswith("200 2"), good.stderr
    for args in ((), ("--cert", str(PKI / "other-client.pem"), "--key", str(PKI / "other-client.key"))):
        refused = curl(port, *args)
        assert refused.returncode != 0 and "200" not in refused.stdout  # the handshake fails


@needs_curl
def test_optional_client_certificate_reaches_rbac_as_the_authenticated_principal(tmp_path, proxy_process):
    port = free_port()
    rbac = {
        "action": "ALLOW",
        "policies": [
            {
                "name": "spiffe",
                "principals": [{"authenticated": {"principal_name": {"prefix": "spiffe://proxyfuzz.test/"}}}],
            }
        ],
    }
    start(tmp_path, proxy_process, [https_listener(port, require=False, rbac=rbac)])
    with_cert = curl(port, "--cert", str(PKI / "client.pem"), "--key", str(PKI / "client.key"))
    without = curl(port)
    assert with_cert.stdout.endswith("200 2"), with_cert.stderr
    assert without.stdout.endswith("403 2"), without.stderr


def sni_listener(port, echo_port_cluster="echo", timeout_ms=None):
    listener = {
        "name": "sni_in",
        "address": {"host": LOOPBACK, "port": port},
        "listener_filters": [{"tls_inspector": {}}],
        "filter_chains": [
            {
                "filter_chain_match": {"server_names": ["*.test"]},
                "tls_context": {"common_tls_context": {"tls_certificates": [CERT]}},
                "filters": [{"tcp_proxy": {"cluster": echo_port_cluster}}],
            }
        ],
    }
    if timeout_ms is not None:
        listener["listener_filters_timeout_ms"] = timeout_ms
    return listener


@needs_openssl
def test_openssl_s_client_with_sni_reaches_the_tls_chain_and_echoes(tmp_path, proxy_process, echo_upstream):
    port = free_port()
    start(
        tmp_path,
        proxy_process,
        [sni_listener(port)],
        [{"name": "echo", "endpoints": [{"host": LOOPBACK, "port": echo_upstream.port}]}],
    )
    cmd = [
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        "echo.test",
        "-quiet",
        "-CAfile",
        str(PKI / "ca.pem"),
        "-verify_return_error",
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"hello through SNI\n")
        proc.stdin.flush()
        line = proc.stdout.readline()  # echoed back through the TLS chain
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert line == b"hello through SNI\n"
    other = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "other.example"],
        input=b"",
        capture_output=True,
        timeout=30,
    )
    assert b"BEGIN CERTIFICATE" not in other.stdout  # no chain matches: closed before any handshake


def v2_header(source, destination):
    src, dst = socket.inet_aton(source[0]), socket.inet_aton(destination[0])
    block = src + dst + source[1].to_bytes(2, "big") + destination[1].to_bytes(2, "big")
    block += b"\x02\x00\x06a.test"  # an authority TLV
    return b"\r\n\r\n\x00\r\nQUIT\n" + b"\x21\x11" + len(block).to_bytes(2, "big") + block


def test_a_proxy_v2_header_names_the_source_rbac_judges(tmp_path, proxy_process, echo_upstream):
    port = free_port()
    listener = {
        "name": "proxied_in",
        "address": {"host": LOOPBACK, "port": port},
        "listener_filters": [{"proxy_protocol": {}}],
        "filter_chains": [
            {
                "filters": [
                    {
                        "rbac": {
                            "action": "ALLOW",
                            "policies": [{"name": "doc-net", "source_prefixes": ["192.0.2.0/24"]}],
                        }
                    },
                    {"tcp_proxy": {"cluster": "echo"}},
                ]
            }
        ],
    }
    proxy = start(
        tmp_path,
        proxy_process,
        [listener],
        [{"name": "echo", "endpoints": [{"host": LOOPBACK, "port": echo_upstream.port}]}],
        admin=True,
    )
    with connect((LOOPBACK, port)) as s:
        s.sendall(v2_header(("192.0.2.1", 5000), (LOOPBACK, port)) + b"allowed")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"allowed"  # the header itself never reached the upstream
    with connect((LOOPBACK, port)) as s:
        s.sendall(v2_header(("198.51.100.1", 5000), (LOOPBACK, port)) + b"denied")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b""
    with connect((LOOPBACK, port)) as s:  # no header at all: refused
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert recv_all(s) == b""
    stats = stats_of(proxy)
    assert stats["rbac.allowed"] == 1 and stats["rbac.denied"] == 1
    assert stats["listener.proxied_in.downstream_cx_proxy_proto_error"] == 1


def stats_of(proxy) -> dict:
    line = next(line for line in proxy.stderr_lines if line.startswith("proxy: admin on "))
    host, port = line.rsplit(" ", 1)[1].strip().rsplit(":", 1)
    with urllib.request.urlopen(f"http://{host}:{port}/stats?format=json", timeout=10) as r:
        return {item["name"]: item["value"] for item in json.load(r)["stats"]}


def test_a_slowloris_client_hello_is_closed_at_the_listener_filter_timeout(tmp_path, proxy_process, echo_upstream):
    port = free_port()
    proxy = start(
        tmp_path,
        proxy_process,
        [sni_listener(port, timeout_ms=300)],
        [{"name": "echo", "endpoints": [{"host": LOOPBACK, "port": echo_upstream.port}]}],
        admin=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="slow.test")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    with connect((LOOPBACK, port), timeout=20) as s:
        s.sendall(hello[:10])  # and never the rest
        assert s.recv(1) == b""  # the proxy closed it, without a byte
    stats = stats_of(proxy)
    assert stats["listener.sni_in.downstream_pre_cx_timeout"] == 1
    assert stats["listener.sni_in.downstream_pre_cx_active"] == 0
    assert echo_upstream.counters()["connections_total"] == 0


def test_an_upstream_wildcard_certificate_satisfies_a_pinned_name_under_it(tmp_path, proxy_process):
    """match_subject_alt_names [api.example.com] against an upstream presenting *.example.com: one
    label under the wildcard, compared without regard to case (Envoy's dnsNameMatch, RFC 6125 6.4).
    Before the fix the handshake failed (cluster ssl.fail_verify_san) and every request got 503."""
    origin, front = free_port(), free_port()
    inner = https_listener(origin)
    inner["name"] = "origin"
    routes = [
        {"match": {"prefix": f"/{name}"}, "route": {"cluster": name}} for name in ("wild", "upper", "deeper", "bare")
    ]
    hcm = {"route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]}}
    outer = {"name": "front", "address": {"host": LOOPBACK, "port": front}, "filter_chains": [{"filters": []}]}
    outer["filter_chains"][0]["filters"].append({"http_connection_manager": hcm})

    def cluster(name, san):
        ca = {"trusted_ca": {"filename": str(PKI / "ca.pem")}, "match_subject_alt_names": [san]}
        tls = {"sni": "api.example.com", "common_tls_context": {"validation_context": ca}}
        return {"name": name, "endpoints": [{"host": LOOPBACK, "port": origin}], "tls_context": tls}

    clusters = [
        cluster("wild", "api.example.com"),
        cluster("upper", "API.Example.COM"),
        cluster("deeper", "a.b.example.com"),  # two labels: not under *.example.com
        cluster("bare", "nobody.example.org"),
    ]
    start(tmp_path, proxy_process, [inner, outer], clusters)

    def status(path):
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{front}{path}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    assert status("/wild") == (200, b"hello over TLS\n")
    assert status("/upper") == (200, b"hello over TLS\n")
    assert status("/deeper")[0] == 503
    assert status("/bare")[0] == 503


def _alpn_strict_upstream(port_holder, stop):
    """A TLS origin that speaks HTTP/2 only when ALPN chose h2 (as nginx, Go's net/http: RFC 9113 3.2),
    else HTTP/1.1, where the HTTP/2 preface is a bad request: 400 and a close."""
    import threading

    import h2.config
    import h2.connection
    import h2.events

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(PKI / "server.pem"), str(PKI / "server.key"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    srv = socket.create_server((LOOPBACK, 0))
    srv.settimeout(0.2)
    port_holder.append(srv.getsockname()[1])

    def serve(raw):
        with raw:
            try:
                tls = ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                return
            tls.settimeout(5)
            if tls.selected_alpn_protocol() != "h2":
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                return
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            tls.sendall(conn.data_to_send())
            while True:
                data = tls.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "6")])
                        conn.send_data(ev.stream_id, b"h2 ok\n", end_stream=True)
                tls.sendall(conn.data_to_send())

    def accept_loop():
        while not stop.is_set():
            try:
                raw, _ = srv.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(raw,), daemon=True).start()
        srv.close()

    threading.Thread(target=accept_loop, daemon=True).start()


def test_an_http2_tls_cluster_offers_h2_by_alpn(tmp_path, proxy_process):
    """Envoy sets an upstream HTTP connection's ALPN from the cluster's protocol when the TLS context
    configures none; RFC 9113 3.2: HTTP/2 over TLS is negotiated by ALPN. Before, the proxy offered no
    ALPN and sent the HTTP/2 preface to an origin that therefore spoke HTTP/1.1: every request 503."""
    import threading

    ports: list = []
    stop = threading.Event()
    _alpn_strict_upstream(ports, stop)
    try:
        front = free_port()
        route = {"match": {"prefix": "/"}, "route": {"cluster": "origin"}}
        hcm = {"route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]}}
        listener = {
            "name": "front",
            "address": {"host": LOOPBACK, "port": front},
            "filter_chains": [{"filters": [{"http_connection_manager": hcm}]}],
        }
        cluster = {
            "name": "origin",
            "protocol": "HTTP2",
            "endpoints": [{"host": LOOPBACK, "port": ports[0]}],
            "tls_context": {"common_tls_context": {}},
        }
        start(tmp_path, proxy_process, [listener], [cluster])
        with urllib.request.urlopen(f"http://{LOOPBACK}:{front}/", timeout=10) as r:
            assert (r.status, r.read()) == (200, b"h2 ok\n")
    finally:
        stop.set()


def strict_tls_exchange(port: int, request: bytes) -> bytes:
    """`request` over TLS 1.3, then read to the end as a strict client does: an end without the
    proxy's close_notify is a truncation (ssl.SSLEOFError; RFC 8446 6.1, RFC 9112 9.8)."""
    context = ssl.create_default_context(cafile=str(PKI / "ca.pem"))
    context.set_alpn_protocols(["http/1.1"])
    with connect((LOOPBACK, port)) as raw:
        with context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls:
            tls.sendall(request)
            out = bytearray()
            while chunk := tls.recv(1 << 16):  # b"" only on the proxy's close_notify
                out += chunk
            return bytes(out)


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", b"200"),
        (b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", b"200"),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n", b"400"),
    ],
    ids=["connection-close", "http-1.0", "bad-request"],
)
def test_the_proxy_ends_its_tls_connections_with_close_notify(tmp_path, proxy_process, request_bytes, status):
    port = free_port()
    start(tmp_path, proxy_process, [https_listener(port)])
    response = strict_tls_exchange(port, request_bytes)  # SSLEOFError before the fix
    assert response.split(b" ", 2)[1] == status, response
