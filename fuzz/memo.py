"""Results of pure, costly steps of a harness remembered by their input, bounded.

A fuzzer runs many inputs that differ in one place: the parts they share (a configuration, a
message, the bytes a codec wrote back) would be built or judged again each time. A step whose
result depends only on its key is looked up instead; the same key always gives the same result,
so an oracle behind a Memo judges exactly what it judged before, only once per distinct key.
That holds while the code behind it stays the same: a test that plants a defect (monkeypatch)
after the same key was judged clean calls forget_all() first (tests/conftest.py does).
"""

import weakref
from collections import OrderedDict
from typing import Any

_ALL: "weakref.WeakSet[Memo]" = weakref.WeakSet()


def forget_all() -> None:
    """Empty every Memo: what they remember was computed by the code as it was."""
    for memo in list(_ALL):
        memo._entries.clear()


def forget_verdicts() -> None:
    """Empty the Memos of oracle verdicts (built configurations stay): for measurements that run
    the same inputs twice and must see each judged (instrumentation scan, bench harnesses)."""
    for memo in list(_ALL):
        if memo.verdicts:
            memo._entries.clear()


class Memo:
    """A least-recently-used map from a step's input to its result, at most `size` entries."""

    def __init__(self, size: int, verdicts: bool = False) -> None:
        self.size = size
        self.verdicts = verdicts  # remembers oracle verdicts (forget_verdicts), not built objects
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        _ALL.add(self)

    def get(self, key: Any) -> Any:
        """The result remembered for key, or None."""
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key: Any, value: Any) -> Any:
        """Remember value for key (the least recently used entry goes once full); returns value."""
        self._entries[key] = value
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
