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

from ..network.registry import Registry


_HTTP_FILTERS = Registry("HTTP filter")
register_http_filter = _HTTP_FILTERS.register
http_filter_factory = _HTTP_FILTERS.factory
registered_http_filters = _HTTP_FILTERS.names
