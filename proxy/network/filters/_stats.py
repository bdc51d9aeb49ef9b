"""Filter stats scopes: every counter goes to `<filter>.<name>` and, when the filter's config
sets a stat_prefix, also to `<filter>.<stat_prefix>.<name>`."""


def stat_scopes(filter_name: str, stat_prefix: str = "") -> tuple:
    return (f"{filter_name}.",) + ((f"{filter_name}.{stat_prefix}.",) if stat_prefix else ())


class FilterStats:
    __slots__ = ("_stats", "_scopes")

    def __init__(self, stats, scopes: tuple) -> None:
        self._stats = stats
        self._scopes = scopes

    def inc(self, name: str, n: int = 1) -> None:
        for scope in self._scopes:
            self._stats.inc(scope + name, n)
