"""Byte buffers, and the watermark buffer that drives flow control.

Watermark semantics follow Envoy's connection buffers: for a buffer limit L the
high watermark is L + 1 and the low watermark is high // 2. "Above high" fires
once when the length grows past the high watermark; "below low" fires once when,
after that, the length falls to the low watermark or under. Callbacks fire on
crossings only, never twice in a row for the same side.
"""


class Buffer:
    """A growable byte buffer drained from the front."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes = b"") -> None:
        self._data = bytearray(data)

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes(self._data[:32])!r}{'...' if len(self._data) > 32 else ''}, len={len(self._data)})"

    def add(self, data) -> None:
        if data:
            self._data += data
            self._changed()

    def prepend(self, data) -> None:
        if data:
            self._data[:0] = data
            self._changed()

    def drain(self, n: int) -> None:
        """Remove the first n bytes (all of them if n exceeds the length)."""
        if n > 0 and self._data:
            del self._data[:n]
            self._changed()

    def take(self, n: int | None = None) -> bytes:
        """Remove and return the first n bytes (all when n is None)."""
        if n is None or n >= len(self._data):
            out = bytes(self._data)
            self._data.clear()
        else:
            out = bytes(self._data[:n])
            del self._data[:n]
        if out:
            self._changed()
        return out

    def move_from(self, other: "Buffer", n: int | None = None) -> None:
        """Move the first n bytes (default all) of other to the end of this buffer."""
        self.add(other.take(n))

    def bytes(self) -> bytes:
        return bytes(self._data)

    def clear(self) -> None:
        self.take()

    def _changed(self) -> None:
        """Hook for subclasses: called after every change of length."""


class WatermarkBuffer(Buffer):
    """A Buffer that reports crossings of its high and low watermarks."""

    __slots__ = ("high_watermark", "low_watermark", "_above_high", "_on_above_high", "_on_below_low")

    def __init__(self, on_above_high, on_below_low, limit: int = 0) -> None:
        super().__init__()
        self._on_above_high = on_above_high
        self._on_below_low = on_below_low
        self._above_high = False
        self.high_watermark = 0
        self.low_watermark = 0
        self.set_limit(limit)

    def set_limit(self, limit: int) -> None:
        """Set the watermarks from a buffer limit; 0 disables them."""
        self.high_watermark = limit + 1 if limit > 0 else 0
        self.low_watermark = self.high_watermark // 2
        self._changed()

    @property
    def above_high_watermark(self) -> bool:
        return self._above_high

    def _changed(self) -> None:
        n = len(self._data)
        if not self._above_high:
            if self.high_watermark and n > self.high_watermark:
                self._above_high = True
                self._on_above_high()
        elif not self.high_watermark or n <= self.low_watermark:
            self._above_high = False
            self._on_below_low()
