"""Downstream TLS statistics: a client that presents no certificate to a listener requiring one is
counted as `ssl.fail_verify_no_cert`, not as a generic `ssl.connection_error` (Envoy's listener
ssl stats: what an operator alerts on when a client lost its certificate). Live on 127.0.0.1: one
client without a certificate, then the admin's /stats."""

from _live import Proxy, Upstream, check, echo, mtls_config, ok, tls_ping

with Upstream(echo) as up, Proxy(mtls_config(up.port, admin=True)) as proxy:
    answer = tls_ping(proxy.port("mtls"), certificate=False)  # returns once the proxy ended the handshake
    stats = proxy.stats()
check(answer == b"", f"a client without a certificate was served ({answer!r}) though one is required")
ssl_stats = {k.split(".ssl.", 1)[1]: v for k, v in stats.items() if k.startswith("listener.mtls.ssl.") and v}
check(
    ssl_stats.get("fail_verify_no_cert") == 1,
    f"one client presented no certificate; the listener's ssl counters read {ssl_stats} "
    "(fail_verify_no_cert 1 expected)",
)
ok(f"the refused client was counted as fail_verify_no_cert ({ssl_stats})")
