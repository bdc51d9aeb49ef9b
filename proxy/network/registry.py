"""Registered network filters: a new filter is configured, built and fuzzed by registering it.

A factory is `factory(config_message, build) -> install`, called once when a
configuration is built (`build` gives read-only access to the whole configuration, for
example cluster names). `install(connection, ctx: ServerContext)` is called for each
new connection and adds that connection's own filter instances.

`Registry` is the mechanism, shared with the HTTP filters (proxy/http/registry.py).
"""


class Registry:
    """Factories by name; `load_builtins` imports the modules whose decorators fill it."""

    def __init__(self, kind: str, load_builtins) -> None:
        self._kind = kind
        self._load_builtins = load_builtins
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
        self._load_builtins()
        try:
            return self._factories[name]
        except KeyError:
            raise KeyError(f"no {self._kind} registered as {name!r}") from None

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._factories)


def _load_builtin_filters() -> None:
    # Importing the filters package registers every built-in filter; the HTTP connection manager
    # lives with the rest of HTTP in proxy/http.
    from . import filters  # noqa: F401
    from ..http import conn_manager  # noqa: F401


_NETWORK_FILTERS = Registry("network filter", _load_builtin_filters)
register_network_filter = _NETWORK_FILTERS.register
network_filter_factory = _NETWORK_FILTERS.factory
registered_network_filters = _NETWORK_FILTERS.names
