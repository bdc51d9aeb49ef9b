"""h2 without the repr of every received frame.

h2's `H2Connection._receive_frame` calls `logger.trace("Received frame: %s", repr(frame))`: the
argument is built for every frame even though the default logger drops it (a few percent of an
HTTP/2 fuzz harness's time). `quiet(conn)` makes the connection's frames print as plain objects:
its frame buffer hands out each frame as a subclass of its own class whose `__repr__` is object's,
and the connection's dispatch table (keyed by exact class) learns the subclasses. Parsing,
validation and dispatch are h2's own, unchanged. A codec with a real logger is left as it is.
"""

import h2.config
import h2.connection
import h2.frame_buffer
from hyperframe.frame import FRAMES, ExtensionFrame, Frame

_QUIET: dict[type, type] = {
    cls: type(cls.__name__, (cls,), {"__repr__": object.__repr__, "__module__": __name__})
    for cls in (*FRAMES.values(), ExtensionFrame)
}


class _QuietFrameBuffer(h2.frame_buffer.FrameBuffer):
    def __next__(self) -> Frame:
        frame = super().__next__()
        frame.__class__ = _QUIET.get(type(frame), type(frame))
        return frame


def quiet(conn: h2.connection.H2Connection) -> None:
    """Before any data is received: frames reach h2's handlers without a repr built for the log
    (only when the connection logs nothing: h2's default DummyLogger)."""
    if type(conn.config.logger) is not h2.config.DummyLogger:
        return
    table = conn._frame_dispatch_table
    table.update({_QUIET[cls]: handler for cls, handler in list(table.items()) if cls in _QUIET})
    conn.incoming_buffer = _QuietFrameBuffer(server=not conn.config.client_side)
