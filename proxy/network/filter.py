"""The network filter contract (Envoy's Network::ReadFilter / WriteFilter), stated once.

Read filters
  * run first-added-first on received data;
  * `on_new_connection()` is called lazily, the first time iteration reaches the
    filter, and always before that filter's first `on_data()`;
  * `on_data(buffer, end_stream)` receives the connection's *whole* read buffer,
    not the new chunk: bytes a filter does not drain are seen again next time.
    A terminal filter (tcp_proxy, http_connection_manager) drains it. `on_data` is
    skipped when the buffer is empty and there is no end of stream;
  * returning STOP_ITERATION means "do not call the filters after me *this time*";
    it is not "wait for me": the next read starts again from the first filter.
    Iteration also stops as soon as the connection is no longer open;
  * `callbacks.continue_reading()` resumes iteration at the next filter with the
    whole read buffer; `callbacks.inject_read_data_to_filter_chain(data, end_stream)`
    passes exactly `data` to the later filters, bypassing the buffer.

Write filters
  * run last-added-first on data the connection writes;
  * `on_write(buffer, end_stream)` receives the chunk being written (a Buffer it
    may modify); STOP_ITERATION drops the chunk: it reaches neither the later
    write filters nor the wire;
  * `callbacks.inject_write_data_to_filter_chain(data, end_stream)` passes exactly
    `data` to the later write filters and then to the connection's write buffer;
  * a filter that keeps stopped chunks to inject them later says so with
    `holds_writes()`: a FLUSH_WRITE close waits for what it holds, and its
    injections still reach the write buffer while the connection is closing.

A filter that completes an external check inline must not call
`continue_reading()` from inside its own `on_data`/`on_new_connection` (it would
re-enter the iteration it is part of); it returns CONTINUE instead.
"""

import enum


class FilterStatus(enum.Enum):
    CONTINUE = "continue"
    STOP_ITERATION = "stop_iteration"


CONTINUE = FilterStatus.CONTINUE
STOP_ITERATION = FilterStatus.STOP_ITERATION


class ReadFilter:
    """Base class of read filters. Subclasses override what they need."""

    callbacks: "ReadFilterCallbacks"

    def initialize_read_filter_callbacks(self, callbacks: "ReadFilterCallbacks") -> None:
        self.callbacks = callbacks

    def on_new_connection(self) -> FilterStatus:
        return CONTINUE

    def on_data(self, data, end_stream: bool) -> FilterStatus:
        return CONTINUE


class WriteFilter:
    """Base class of write filters."""

    write_callbacks: "WriteFilterCallbacks"

    def initialize_write_filter_callbacks(self, callbacks: "WriteFilterCallbacks") -> None:
        self.write_callbacks = callbacks

    def on_write(self, data, end_stream: bool) -> FilterStatus:
        return CONTINUE

    def holds_writes(self) -> bool:
        """True while this filter holds written bytes (or the end of stream) it will inject later."""
        return False


class ReadFilterCallbacks:
    """What a read filter may ask of its connection's filter manager."""

    @property
    def connection(self):
        raise NotImplementedError

    def continue_reading(self) -> None:
        raise NotImplementedError

    def inject_read_data_to_filter_chain(self, data: bytes, end_stream: bool) -> None:
        raise NotImplementedError


class WriteFilterCallbacks:
    """What a write filter may ask of its connection's filter manager."""

    @property
    def connection(self):
        raise NotImplementedError

    def inject_write_data_to_filter_chain(self, data: bytes, end_stream: bool) -> None:
        raise NotImplementedError


class ConnectionCallbacks:
    """Connection events for whoever registered with add_connection_callbacks()."""

    def on_event(self, event) -> None:
        pass

    def on_above_write_buffer_high_watermark(self) -> None:
        pass

    def on_below_write_buffer_low_watermark(self) -> None:
        pass
