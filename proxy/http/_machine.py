"""What the codecs' state tables are made of: named states and events, and a machine that moves
from one to the next only by its table (h11's `_state.py` is the model).

States and events are named singletons compared by identity, as h11's sentinels are. `enum.Enum`
would read the same, but on Python 3.11 each `Kind.MEMBER` lookup and each hash of a member runs
Python code, several times per HTTP message on the codecs' hot path.
"""

from collections.abc import Mapping


class IllegalTransition(RuntimeError):
    """An event the table has no entry for in the current state: a bug in the codec."""


class Symbol:
    """A state or an event, named by the class attribute that holds it (`IDLE = Symbol()`)."""

    __slots__ = ("kind", "name")

    def __init__(self) -> None:
        self.kind = self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name == "?":  # named once, where defined; not again as another class's default value
            self.kind, self.name = owner.__name__, name

    def __repr__(self) -> str:
        return f"{self.kind}.{self.name}"


def members(kind: type) -> list[Symbol]:
    """The symbols a class holds, in the order they are written."""
    return [v for v in vars(kind).values() if isinstance(v, Symbol)]


class Machine:
    """One state machine: `table[state][event]` is the state the event leads to."""

    def __init__(self, name: str, table: Mapping[Symbol, Mapping[Symbol, Symbol]]) -> None:
        missing = {target for row in table.values() for target in row.values()} - set(table)
        assert not missing, f"{name}: states reached but without a row: {missing}"
        self.name = name
        self.table = table

    def after(
        self, state: Symbol, event: Symbol, stream_id: int = 0, error: type[Exception] = IllegalTransition
    ) -> Symbol:
        """The state `event` leads to from `state`. `error` lets a codec report its owner's misuse
        (a command in the wrong state) as the owner's error rather than its own."""
        try:
            return self.table[state][event]
        except KeyError:
            raise error(f"{self.name} of stream {stream_id}: in state {state.name} cannot take {event.name}") from None
