"""Session sources: the edges of every source range a configuration decides on, including direct
source ranges and the default chain's policies (appended after the others, so committed seeds keep
connecting from the sources they did)."""

from fuzz.models.session_oracle import edge_sources
from proxy.build import build
from proxy.config import load_bytes

CONFIG = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filter_chain_match: {source_prefix_ranges: [10.0.0.0/8], direct_source_prefix_ranges: ["2001:db8::/48"]}
    filters: [{tcp_proxy: {cluster: web, stat_prefix: t}}]
  default_filter_chain:
    filters:
    - rbac: {stat_prefix: r, policies: [{name: p, source_prefixes: ["::1/64"]}]}
    - tcp_proxy: {cluster: web, stat_prefix: t}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""


def test_direct_source_and_default_chain_ranges_have_edges_after_the_others():
    sources = edge_sources(build(load_bytes(CONFIG.encode(), "yaml")), ("127.0.0.1",))
    assert sources[:5] == ("127.0.0.1", "10.0.0.0", "10.128.0.0", "10.255.255.255", "11.0.0.0")
    # outside a /48 by its last bit, inside its /32: a prefix clamped to 32 bits takes it
    assert "2001:db8:1::" in sources[5:]
    assert "0:0:0:1::" in sources[5:]  # ::1/64's last prefix bit flipped
