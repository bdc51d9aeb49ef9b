"""Registered HTTP filters: a new filter is configured, built and fuzzed by registering it.

Mirrors proxy/network/registry.py. A factory is `factory(config_message, build) -> make`,
called once when a configuration is built (`build` is a proxy.build.BuildContext: read-only
access to the clusters, and `error()` for messages naming the field). `make(ctx)` is called for
every new request stream and returns that stream's own filter instance (a
proxy.http.filter.StreamFilter); `ctx` is the instance's ServerContext.

The name is the filter's field in the HttpFilter oneof of bootstrap.proto, so a fuzz harness can
iterate `registered_http_filters()` and build each from a config message of that field's type.
The router is not registered: it is implicit and always last.
"""

_HTTP_FILTERS: dict = {}


def register_http_filter(name: str):
    def deco(factory):
        if name in _HTTP_FILTERS:
            raise ValueError(f"HTTP filter {name!r} registered twice")
        _HTTP_FILTERS[name] = factory
        return factory
    return deco


def http_filter_factory(name: str):
    _load_builtin_filters()
    try:
        return _HTTP_FILTERS[name]
    except KeyError:
        raise KeyError(f"no HTTP filter registered as {name!r}") from None


def registered_http_filters() -> list[str]:
    _load_builtin_filters()
    return sorted(_HTTP_FILTERS)


def _load_builtin_filters() -> None:
    from . import filters  # noqa: F401  (importing the package registers every built-in filter)
