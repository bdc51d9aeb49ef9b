"""What a filter factory may read while a configuration is built, and the error it raises.

A factory is called as `factory(config_message, build)` by proxy/build.py; `build` is a
BuildContext. It lives below the filters and the builder, so filters never import the builder
(the dependency runs build -> filters -> build_context)."""

import ipaddress
from dataclasses import dataclass
from types import MappingProxyType


class BuildError(ValueError):
    """The configuration cannot be built; `path` names the field (e.g. listeners[0].filter_chains[1])."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class BuildContext:
    """What a network filter factory may read while building: `factory(config_message, build)`."""

    clusters: MappingProxyType  # name -> BuiltCluster
    listener_name: str
    path: str  # field path of the filter's config, for error messages

    def error(self, message: str, field: str = "") -> BuildError:
        return BuildError(f"{self.path}.{field}" if field else self.path, message)


def parse_cidr(text: str, path: str):
    """An ip_network from 'a.b.c.d/n' or 'v6/n' (host bits allowed, as Envoy does)."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise BuildError(path, f"{text!r} is not a CIDR range ({exc})") from None
