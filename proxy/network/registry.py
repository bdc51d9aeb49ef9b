"""Registered network filters: a new filter is configured, built and fuzzed by registering it.

A factory is `factory(config_message, build) -> install`, called once when a
configuration is built (`build` gives read-only access to the whole configuration, for
example cluster names). `install(connection, ctx: ServerContext)` is called for each
new connection and adds that connection's own filter instances.

A filter registers itself with `@register_network_filter(name)` when its module is imported;
proxy/extensions.py imports every built-in one. `Registry` is the mechanism, shared with the
HTTP and listener filters (proxy/http/registry.py, proxy/network/listener_filter.py).
"""


class Registry:
    """Factories by name, filled by the `register` decorators of the filter modules as they are
    imported (proxy/extensions.py imports the built-in ones)."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._factories: dict = {}

    def register(self, name: str):
        """Decorator: `name` is the filter's field in its oneof of bootstrap.proto."""

        def deco(factory):
            if name in self._factories:
                raise ValueError(f"{self._kind} {name!r} registered twice")
            self._factories[name] = factory
            return factory

        return deco

    def factory(self, name: str):
        try:
            return self._factories[name]
        except KeyError:
            raise KeyError(f"no {self._kind} registered as {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._factories)


_NETWORK_FILTERS = Registry("network filter")
register_network_filter = _NETWORK_FILTERS.register
network_filter_factory = _NETWORK_FILTERS.factory
registered_network_filters = _NETWORK_FILTERS.names
