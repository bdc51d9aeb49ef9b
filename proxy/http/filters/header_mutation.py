"""HTTP header_mutation: remove, then add, request headers (on the way up) and response headers
(on the way down, local replies included). Added headers are appended to any already present."""

from dataclasses import dataclass

from ...build_context import BuildContext
from ..filter import CONTINUE, StreamFilter
from ..registry import register_http_filter


_RESERVED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "te",
        "expect",
    }
)


@dataclass(frozen=True)
class HeaderMutationConfig:
    request_add: tuple  # ((name, value), ...) bytes, sorted by name for determinism
    request_remove: tuple
    response_add: tuple
    response_remove: tuple


@register_http_filter("header_mutation")
def header_mutation_factory(msg, build: BuildContext):
    def pairs(m):
        return tuple(sorted((k.lower().encode(), v.encode()) for k, v in m.items()))

    # Framing and routing headers belong to the codecs and the connection manager: adding one would
    # contradict the framing the codec chooses (a second content-length, a transfer-encoding).
    for field in ("request_headers_to_add", "response_headers_to_add"):
        for name in sorted(getattr(msg, field)):
            if name.lower() in _RESERVED:
                raise build.error(f"{name!r} cannot be added: the codecs own it", f"{field}[{name}]")
    for i, name in enumerate(msg.request_headers_to_remove):
        if name.lower() == "host":
            raise build.error(
                "removing host would leave the request without an authority", f"request_headers_to_remove[{i}]"
            )
    config = HeaderMutationConfig(
        request_add=pairs(msg.request_headers_to_add),
        request_remove=tuple(n.lower().encode() for n in msg.request_headers_to_remove),
        response_add=pairs(msg.response_headers_to_add),
        response_remove=tuple(n.lower().encode() for n in msg.response_headers_to_remove),
    )
    return lambda ctx: HeaderMutationFilter(config)


def _mutate(headers, remove, add) -> None:
    for name in remove:
        headers.remove(name)
    for name, value in add:
        headers.add(name, value)


class HeaderMutationFilter(StreamFilter):
    def __init__(self, config: HeaderMutationConfig) -> None:
        self.config = config

    def decode_headers(self, head, end_stream):
        _mutate(head.headers, self.config.request_remove, self.config.request_add)
        return CONTINUE

    def encode_headers(self, head, end_stream):
        _mutate(head.headers, self.config.response_remove, self.config.response_add)
        return CONTINUE
