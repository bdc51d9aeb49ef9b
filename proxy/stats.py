"""Counters and gauges, by dotted name (for example `tcp_proxy.upstream_cx_total`)."""

from collections import defaultdict


class Stats:
    def __init__(self) -> None:
        self.counters: dict[str, int] = defaultdict(int)
        self.gauges: dict[str, int] = defaultdict(int)

    def inc(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def gauge_add(self, name: str, n: int) -> None:
        self.gauges[name] += n

    def gauge_set(self, name: str, value: int) -> None:
        self.gauges[name] = value

    def counter(self, name: str) -> int:
        return self.counters.get(name, 0)

    def gauge(self, name: str) -> int:
        return self.gauges.get(name, 0)

    def snapshot(self) -> dict:
        return {"counters": dict(sorted(self.counters.items())), "gauges": dict(sorted(self.gauges.items()))}
