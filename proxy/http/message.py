"""Mutable request and response heads as HTTP filters see them: protocol-neutral, lowercase names.

The codec events (proxy/http/codec.py) are frozen; the connection manager turns them into these
so filters can edit headers in place, and turns them back into codec commands at the edges.
"""

from dataclasses import dataclass, field


class HeaderMap:
    """An ordered multimap of lowercase header names to values (bytes). Names given as str are encoded."""

    __slots__ = ("_fields",)

    def __init__(self, fields=()) -> None:
        self._fields: list[tuple[bytes, bytes]] = [(_b(n).lower(), _b(v)) for n, v in fields]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"HeaderMap({self._fields!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, HeaderMap) and self._fields == other._fields

    def items(self) -> list[tuple[bytes, bytes]]:
        return list(self._fields)

    def get(self, name, default=None):
        """The values of `name` joined with ',' (RFC 9110 5.3), or default when absent."""
        key = _b(name).lower()
        values = [v for n, v in self._fields if n == key]
        return b",".join(values) if values else default

    def get_all(self, name) -> list[bytes]:
        key = _b(name).lower()
        return [v for n, v in self._fields if n == key]

    def __contains__(self, name) -> bool:
        key = _b(name).lower()
        return any(n == key for n, _ in self._fields)

    def add(self, name, value) -> None:
        self._fields.append((_b(name).lower(), _b(value)))

    def set(self, name, value) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name) -> None:
        key = _b(name).lower()
        self._fields = [(n, v) for n, v in self._fields if n != key]

    def byte_size(self) -> int:
        return sum(len(n) + len(v) for n, v in self._fields)


def _b(x) -> bytes:
    return x.encode("latin-1") if isinstance(x, str) else bytes(x)


@dataclass
class RequestHead:
    method: bytes
    path: bytes  # origin-form target, query included
    authority: bytes
    scheme: bytes = b"http"
    headers: HeaderMap = field(default_factory=HeaderMap)
    http_version: bytes = b"1.1"

    def byte_size(self) -> int:
        return len(self.method) + len(self.path) + len(self.authority) + len(self.scheme) + self.headers.byte_size()

    def pseudo(self, name: bytes):
        """Pseudo-header value (route and RBAC header matchers may name them), or None."""
        return {
            b":method": self.method,
            b":path": self.path,
            b":authority": self.authority,
            b":scheme": self.scheme,
        }.get(name)

    def header_value(self, name: bytes):
        """A header's value, pseudo-headers included; Host is the authority."""
        if name.startswith(b":"):
            return self.pseudo(name)
        if name == b"host":
            return self.authority
        return self.headers.get(name)

    @property
    def path_only(self) -> bytes:
        """The path without its query string."""
        return self.path.split(b"?", 1)[0]


@dataclass
class ResponseHead:
    status: int
    headers: HeaderMap = field(default_factory=HeaderMap)
    http_version: bytes = b"1.1"
