"""Filter chain matches that overlap: Envoy refuses a listener two of whose filter chains match some
connection equally well ("multiple filter chains with the same matching rules"). Chains naming
server_names [a.example, b.example] and [b.example] both match SNI b.example on every other
criterion, so the configuration is refused with a violation naming the second chain."""

from _live import check, ok, routed_by_chain

from proxy.config import ConfigError, load_bytes

CONFIG = routed_by_chain(
    {"name": "sni"},
    [
        ("both", {"server_names": ["a.example", "b.example"]}),
        ("only_b", {"server_names": ["b.example"]}),
    ],
    {"both": 9001, "only_b": 9002},
)
try:
    load_bytes(CONFIG.encode(), "yaml")
except ConfigError as exc:
    paths = [v.path for v in exc.violations]
    check(
        "listeners[0].filter_chains[1].filter_chain_match" in paths,
        f"the configuration was refused, but not for the overlapping chains: {paths}",
    )
    ok("chains sharing the server name b.example were refused as matching the same connections")
check(
    False,
    "chains with server_names [a.example, b.example] and [b.example] were accepted: a connection for b.example "
    "goes to the first and the second never gets one",
)
