"""Access log lines written off the event loop, as Envoy's access log flusher thread does.

A log's reader that stops reading (a pipe nobody drains: a subprocess' stdout=PIPE, a stalled log
shipper) blocked the proxy's one thread in write(2): seen live, every request after about 64 KiB of
records timed out, the admin's /ready too. A LineWriter queues lines for a thread of its own, so
the data plane never waits for the log. Its queue is bounded (QUEUE_LIMIT bytes): lines beyond it
are dropped and counted, never held without bound. Lines go out in order, each whole: the lock
(shared by worker processes) is held while a batch is written and flushed.

`flush_all(timeout_s)` waits for queued lines at the end of the process, and `reopen_all()` (on
SIGUSR1, as Envoy's "reopen all access logs") has each file log reopen its path before its next
write, so a rotated log is let go and a new one made (proxy/server.py).
"""

import threading
import time
import weakref
from collections import deque

QUEUE_LIMIT = 8 << 20  # bytes of lines waiting for the log

_writers: "weakref.WeakSet[LineWriter]" = weakref.WeakSet()


class LineWriter:
    def __init__(self, stream, lock, limit: int = QUEUE_LIMIT, reopen=None) -> None:
        self.stream = stream
        self.lock = lock
        self.limit = limit
        self.reopen = reopen  # makes a fresh stream for the same log (a file's path); None: stdout
        self._reopen_asked = False
        self._lines: deque[str] = deque()
        self._queued = 0  # characters queued or being written
        self._writing = False
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._failed = 0  # lines a write error lost
        self._dropped = 0  # lines the full queue refused
        _writers.add(self)

    def put(self, line: str) -> None:
        """Queue one line; never blocks, never raises."""
        with self._cv:
            if self._queued + len(line) > self.limit:
                self._dropped += 1
                return
            self._lines.append(line)
            self._queued += len(line)
            if self._thread is None:  # made on first use: after a worker's fork, never before
                self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
                self._thread.start()
            self._cv.notify()

    def ask_reopen(self) -> None:
        if self.reopen is None:
            return
        with self._cv:
            self._reopen_asked = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
                self._thread.start()
            self._cv.notify()

    def take_counts(self) -> tuple[int, int]:
        """(lines lost to write errors, lines dropped by the full queue) since the last call."""
        with self._cv:
            counts = (self._failed, self._dropped)
            self._failed = self._dropped = 0
        return counts

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued line is written (or lost); False at the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while self._lines or self._writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._lines and not self._reopen_asked:
                    self._cv.wait()
                batch = list(self._lines)
                self._lines.clear()
                reopen, self._reopen_asked = self._reopen_asked, False
                self._writing = True
            if reopen:
                self._reopen_stream()
            written = 0
            try:
                with self.lock:
                    for line in batch:
                        self.stream.write(line)
                        written += 1
                    self.stream.flush()
            except Exception:  # its reader gone (EPIPE), a full disk, a closed stream, no stdout at all
                written = 0  # what the buffer held is not known to be out; the thread goes on
            with self._cv:
                self._failed += len(batch) - written
                self._queued -= sum(map(len, batch))
                self._writing = False
                self._cv.notify_all()

    def _reopen_stream(self) -> None:
        try:
            fresh = self.reopen()
        except OSError:
            return  # the old file serves on (its lines still land somewhere); Envoy counts reopen_failed
        old, self.stream = self.stream, fresh
        try:
            old.close()
        except OSError:
            pass


def reopen_all() -> None:
    """Every file log reopens its path before its next write (SIGUSR1)."""
    for writer in list(_writers):
        writer.ask_reopen()


def flush_all(timeout_s: float) -> None:
    """Wait up to timeout_s for every writer's queued lines (the process is about to exit)."""
    deadline = time.monotonic() + timeout_s
    for writer in list(_writers):
        writer.flush(max(0.0, deadline - time.monotonic()))
