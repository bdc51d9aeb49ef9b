"""Admin /config_dump never shows a TLS private key (Envoy redacts sensitive fields, the README
promises `[redacted]`): a listener whose key is given inline has neither the key's text nor any
part of it in the dump."""

import json

from _live import Proxy, Upstream, check, echo, http1_request, ok

from fuzz.test_pki import ensure

PKI = ensure()
KEY = (PKI / "server.key").read_text()
tls = {
    "common_tls_context": {
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(PKI / "server.pem")},
                "private_key": {"inline_string": KEY},
            }
        ]
    }
}
with Upstream(echo) as up:
    config = {
        "listeners": [
            {
                "name": "tls",
                "address": {"host": "127.0.0.1", "port": 0},
                "filter_chains": [{"tls_context": tls, "filters": [{"tcp_proxy": {"cluster": "app"}}]}],
            }
        ],
        "clusters": [{"name": "app", "endpoints": [{"host": "127.0.0.1", "port": up.port}]}],
        "admin": {"address": {"host": "127.0.0.1", "port": 0}},
    }
    with Proxy(json.dumps(config)) as proxy:
        status, _, body = http1_request(proxy.admin_port, "GET", "/config_dump")
check(status == 200, f"/config_dump answered {status}")
text = body.decode("utf-8", "replace")
key_line = KEY.splitlines()[1]  # a line of the key's base64 body
check(
    "PRIVATE KEY" not in text and key_line not in text and "[redacted]" in text,
    "/config_dump shows the listener's inline private key"
    + (" in clear" if key_line in text else f" (no [redacted] in it: {text[:200]!r})"),
)
ok("/config_dump shows the inline private key as [redacted]")
