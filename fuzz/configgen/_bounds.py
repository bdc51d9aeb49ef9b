"""Every bound of the stage-1 config generator, in one place.

Stage-1 configurations are built once and then carry thousands of data-plane sessions, so they
must be cheap to build and run: few items per list, short strings, small timeouts and buffer
limits. A rule always wins over a bound: a bound only narrows what the rule allows (a field with
`gte: 65535` still gets 65535 even though its cap is lower).

Change the bounds by passing another `Bounds` (dataclasses.replace(DEFAULT_BOUNDS, max_items=5));
never by editing a strategy.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    # Messages nested deeper than this are left unset when the schema allows it.
    max_depth: int = 12
    # Items per repeated field / pairs per map, unless the rule's min_items asks for more; lists in
    # messages nested at least deep_from levels get deep_max_items (nested lists multiply: three
    # virtual hosts of three routes of three header matchers is 27 matchers per filter).
    max_items: int = 3
    deep_from: int = 4
    deep_max_items: int = 2
    # Characters of free text (patterns generate short strings by themselves).
    max_chars: int = 16
    # Characters of free text and negated classes: two thirds of the strings printable ASCII (what
    # requests carry, so routes and matchers can match), the rest up to max_codepoint (Latin-1 and
    # Latin Extended: multi-byte UTF-8 for max_bytes rules, and controls).
    max_codepoint: int = 0x2FF
    # Integer caps by field: the first (regex on the field's full name, cap) that matches wins.
    int_caps: tuple = (
        (r"_ms$", 2_000),  # timeouts and delays: reachable in virtual time
        (r"buffer_limit_bytes$", 65_536),  # watermarks are crossed by small sessions
        (r"window_size$|frame_size$|header_list_size$", 65_536),
        (r"_kb$", 64),
        (r"bytes_per_sec$", 65_536),
        (r"(^|\.)port$|_port$|_ports$", 65_535),  # ports are cheap at any value
        (r"status$", 599),
        (r"", 1_000),  # counts, weights, tokens, connections
    )
    # Integers are drawn from [low, low + small_span] a third of the time (edges and cheap values).
    small_span: int = 16
    # Where the proxy binds: every SocketAddress gets this host and a distinct port from this range.
    listen_host: str = "127.0.0.1"
    listen_ports: range = range(10_000, 10_064)
    # Random bytes per configuration for pool(); a shorter draw is padded with zeros (the simplest
    # choices), so every buffer maps to a configuration.
    pool_buffer_bytes: int = 4_096
    pad_bytes: int = 16_384
    # A configuration depends on at most this many leading input bytes (a draw from random bytes
    # consumes under 2 KiB here); the rest is ignored, which also bounds the cache's keys.
    max_input_bytes: int = 4_096
    # config_from_bytes caches this many configurations (serialized, so they stay immutable).
    cache_size: int = 4_096

    def items_cap(self, depth: int) -> int:
        return self.deep_max_items if depth >= self.deep_from else self.max_items

    def int_cap(self, full_name: str) -> int:
        for pattern, cap in self.int_caps:
            if re.search(pattern, full_name):
                return cap
        return 1_000


DEFAULT_BOUNDS = Bounds()
