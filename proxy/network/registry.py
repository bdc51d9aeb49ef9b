"""Registered network filters: a new filter is configured, built and fuzzed by registering it.

A factory is `factory(config_message, build) -> install`, called once when a
configuration is built (`build` gives read-only access to the whole configuration, for
example cluster names). `install(connection, ctx: ServerContext)` is called for each
new connection and adds that connection's own filter instances.
"""

_NETWORK_FILTERS: dict = {}


def register_network_filter(name: str):
    """Decorator: `name` is the filter's field in the NetworkFilter oneof of bootstrap.proto."""
    def deco(factory):
        if name in _NETWORK_FILTERS:
            raise ValueError(f"network filter {name!r} registered twice")
        _NETWORK_FILTERS[name] = factory
        return factory
    return deco


def network_filter_factory(name: str):
    _load_builtin_filters()
    try:
        return _NETWORK_FILTERS[name]
    except KeyError:
        raise KeyError(f"no network filter registered as {name!r}") from None


def registered_network_filters() -> list[str]:
    _load_builtin_filters()
    return sorted(_NETWORK_FILTERS)


def _load_builtin_filters() -> None:
    # Importing the filters package registers every built-in filter; the HTTP connection manager
    # lives with the rest of HTTP in proxy/http.
    from . import filters  # noqa: F401
    from ..http import conn_manager  # noqa: F401
