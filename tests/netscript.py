"""Helpers for script-style network tests: a recording filter and a fresh connection."""

from proxy.event import SimulatedDispatcher
from proxy.network import sim
from proxy.network.filter import CONTINUE, ReadFilter, WriteFilter


class Recorder(ReadFilter, WriteFilter):
    """Records every call into a shared log; returns scripted statuses.

    `on_data` may be given a callable (buffer, end_stream) -> status to act, e.g. drain.
    """

    def __init__(self, name, log, on_new=CONTINUE, on_data=CONTINUE, on_write=CONTINUE):
        self.name, self.log = name, log
        self._on_new, self._on_data, self._on_write = on_new, on_data, on_write

    def on_new_connection(self):
        self.log.append((self.name, "new"))
        return self._on_new() if callable(self._on_new) else self._on_new

    def on_data(self, data, end_stream):
        self.log.append((self.name, "data", data.bytes(), end_stream))
        return self._on_data(data, end_stream) if callable(self._on_data) else self._on_data

    def on_write(self, data, end_stream):
        self.log.append((self.name, "write", data.bytes(), end_stream))
        return self._on_write(data, end_stream) if callable(self._on_write) else self._on_write


def drain(status=CONTINUE):
    def act(buf, end_stream):
        buf.drain(len(buf))
        return status

    return act


def new_connection(buffer_limit=1 << 20, half_close=False):
    d = SimulatedDispatcher()
    conn = sim.accept(d, buffer_limit=buffer_limit)
    conn.enable_half_close(half_close)
    return d, conn
