"""RBAC source prefixes: an IPv6 range longer than /32 covers exactly its prefix length, no more
(in memory through the proxy's build API: the live proxy may only use 127.0.0.1)."""

from _live import accept_in_memory, check, in_memory, ok, tcp_config

CONFIG = tcp_config(
    9000,
    filters=[
        {"rbac": {"action": "DENY", "policies": [{"name": "blocked-site", "source_prefixes": ["2001:db8:bad::/48"]}]}}
    ],
)

built, ctx, dispatcher, network = in_memory(CONFIG)
blocked, _ = accept_in_memory(built, ctx, "tcp", ("2001:db8:bad::7", 40000))
other, _ = accept_in_memory(built, ctx, "tcp", ("2001:db8:ffff::7", 40001))
dispatcher.run_posted()
check(blocked is not None and not blocked.is_open, "a client inside 2001:db8:bad::/48 was not denied")
check(
    other is not None and other.is_open,
    "a client at 2001:db8:ffff::7, outside the denied 2001:db8:bad::/48, was denied",
)
ok("the /48 DENY policy denied 2001:db8:bad::7 and allowed 2001:db8:ffff::7")
