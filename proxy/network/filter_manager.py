"""Iteration over a connection's network filters: the rules of proxy/network/filter.py."""

from ..buffer import Buffer
from .filter import STOP_ITERATION, CONTINUE, ReadFilterCallbacks, WriteFilterCallbacks


class FilterReentryError(AssertionError):
    """A read filter called continue_reading() from inside its own callback."""


class _ActiveReadFilter(ReadFilterCallbacks):
    __slots__ = ("manager", "filter", "index", "initialized", "in_callback")

    def __init__(self, manager, filter_, index):
        self.manager = manager
        self.filter = filter_
        self.index = index
        self.initialized = False
        self.in_callback = False

    @property
    def connection(self):
        return self.manager.connection

    def continue_reading(self) -> None:
        if self.in_callback:
            # The filter is still inside on_new_connection/on_data: the iteration it is
            # part of will go on when it returns CONTINUE. Resuming here would deliver
            # the same bytes to the later filters twice.
            raise FilterReentryError(
                f"{type(self.filter).__name__} called continue_reading() from inside its own callback"
            )
        self.manager.continue_reading(self.index + 1, None)
        observer = self.manager.observer
        if observer is not None:
            observer(self.manager.connection, self.filter, "resumed")

    def inject_read_data_to_filter_chain(self, data, end_stream: bool) -> None:
        buf = data if isinstance(data, Buffer) else Buffer(data)
        self.manager.continue_reading(self.index + 1, (buf, end_stream))
        observer = self.manager.observer
        if observer is not None:
            observer(self.manager.connection, self.filter, "resumed")


class _ActiveWriteFilter(WriteFilterCallbacks):
    __slots__ = ("manager", "filter", "index")

    def __init__(self, manager, filter_, index):
        self.manager = manager
        self.filter = filter_
        self.index = index

    @property
    def connection(self):
        return self.manager.connection

    def inject_write_data_to_filter_chain(self, data, end_stream: bool) -> None:
        buf = data if isinstance(data, Buffer) else Buffer(data)
        if self.manager.on_write(self.index + 1, buf, end_stream) is CONTINUE:
            self.manager.connection._raw_write(buf, end_stream)


class FilterManager:
    """Holds a connection's read filters (in add order) and write filters (in write order).

    Write filters are stored last-added-first, so index 0 is the first to see a write.
    """

    def __init__(self, connection, observer=None) -> None:
        self.connection = connection
        # Test and fuzzing hook (ServerContext.filter_observer, set by whoever creates the
        # connection): called as observer(connection, filter, kind) just before every filter
        # callback, kind in {"new", "data", "write"}, and with kind "resumed" just after a read
        # filter resumed iteration. Oracles check the iteration rules with it from outside
        # (fuzz/oracles.py FilterRules). None in production.
        self.observer = observer
        self.read_filters: list[_ActiveReadFilter] = []
        self.write_filters: list[_ActiveWriteFilter] = []

    def add_read_filter(self, filter_) -> None:
        active = _ActiveReadFilter(self, filter_, len(self.read_filters))
        self.read_filters.append(active)
        filter_.initialize_read_filter_callbacks(active)

    def add_write_filter(self, filter_) -> None:
        active = _ActiveWriteFilter(self, filter_, 0)
        self.write_filters.insert(0, active)
        for i, w in enumerate(self.write_filters):
            w.index = i
        filter_.initialize_write_filter_callbacks(active)

    def initialize_read_filters(self) -> bool:
        """Start iteration once so the first filters see on_new_connection. False if none."""
        if not self.read_filters:
            return False
        self.continue_reading(0, None)
        return True

    def on_read(self) -> None:
        self.continue_reading(0, None)

    def continue_reading(self, start: int, injected) -> None:
        """Iterate read filters from `start`. `injected` is (Buffer, end_stream) or None for the read buffer."""
        conn, observer = self.connection, self.observer
        for active in self.read_filters[start:]:
            if not conn.is_open:
                return
            if not active.initialized:
                active.initialized = True
                if observer is not None:
                    observer(conn, active.filter, "new")
                active.in_callback = True
                try:
                    status = active.filter.on_new_connection()
                finally:
                    active.in_callback = False
                if status is STOP_ITERATION or not conn.is_open:
                    return
            buf, end_stream = injected if injected is not None else (conn.read_buffer, conn.read_end_stream)
            if len(buf) or end_stream:
                if observer is not None:
                    observer(conn, active.filter, "data")
                active.in_callback = True
                try:
                    status = active.filter.on_data(buf, end_stream)
                finally:
                    active.in_callback = False
                if status is STOP_ITERATION or not conn.is_open:
                    return

    def holds_writes(self) -> bool:
        return any(active.filter.holds_writes() for active in self.write_filters)

    def on_write(self, start: int, buf: Buffer, end_stream: bool):
        """Run write filters from `start` on one chunk. STOP_ITERATION means: drop it."""
        observer = self.observer
        for active in self.write_filters[start:]:
            if observer is not None:
                observer(self.connection, active.filter, "write")
            if active.filter.on_write(buf, end_stream) is STOP_ITERATION:
                return STOP_ITERATION
        return CONTINUE
