"""Token buckets shared by the worker processes of `--concurrency N` (proxy/workers.py).

Envoy's local rate limit buckets belong to the process, not to a worker: "the token bucket is
shared across all workers, thus the rate limits are applied per Envoy process" (network and HTTP
local_ratelimit docs). A bucket in each worker's ServerContext would let N workers pass N times
the configured rate. So the parent makes one SharedBuckets before it forks: an anonymous shared
mapping of slots and one lock, which every worker inherits. A slot is one filter's bucket: its
key, when it was made, its tokens and the fills counted so far.

The rules are TokenBucket's (proxy/network/filters/local_ratelimit.py): full when made (at the
first connection or request any worker hands it), tokens_per_fill added at made + k x
fill_interval_ms, never above max_tokens, a fill due at t before a take at t. Fills are counted
when a token is asked for instead of by a timer: adding n fills and capping once gives what
capping after each fill gives, since fills only add. Time is CLOCK_MONOTONIC (time.monotonic_ns),
the one clock every process on the machine shares, read in integer nanoseconds.

The lock is a POSIX record lock (fcntl) on the file behind the mapping, not a semaphore: the kernel
drops it when its holder dies. A worker SIGKILLed (the OOM killer) between a semaphore's acquire and
release left it held for ever, and every other worker's next take blocked its event loop for good:
no drain, no exit, its listening sockets still queueing clients, the parent waiting on it.
"""

import contextlib
import fcntl
import mmap
import os
import struct
import tempfile
import time
import weakref

_SLOT = struct.Struct("<Qqqq")  # key, made_ms, tokens, fills
_USED = struct.Struct("<Q")  # slots in use, at offset 0
CAPACITY = 65536  # slots; pages never touched cost nothing


class SharedBuckets:
    """Made in the parent before fork; `bucket` is a ServerContext.token_buckets factory."""

    def __init__(self, capacity: int = CAPACITY, clock=time.monotonic_ns) -> None:
        size = _USED.size + capacity * _SLOT.size
        self._fd = _anonymous_file()
        weakref.finalize(self, os.close, self._fd)
        os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)  # MAP_SHARED: what one worker writes, all see
        self._capacity = capacity
        self._clock = clock

    def bucket(self, key, max_tokens: int, tokens_per_fill: int, fill_interval_ms: int) -> "SharedTokenBucket":
        # The key is a filter's built configuration, made before the fork: every worker holds the
        # same object at the same address, so its id names the same bucket in all of them.
        return SharedTokenBucket(self, id(key), max_tokens, tokens_per_fill, fill_interval_ms)

    @contextlib.contextmanager
    def _locked(self):
        """Between processes only (a process's record locks do not exclude its own threads; a
        worker takes from its loop's thread alone)."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def _slot(self, key: int, now_ms: int, max_tokens: int) -> int:
        """The offset of key's slot, made full at now_ms if no worker made it yet (lock held)."""
        (used,) = _USED.unpack_from(self._map, 0)
        for i in range(used):
            offset = _USED.size + i * _SLOT.size
            if _SLOT.unpack_from(self._map, offset)[0] == key:
                return offset
        if used == self._capacity:
            raise RuntimeError(f"more than {self._capacity} rate limit buckets")
        offset = _USED.size + used * _SLOT.size
        _SLOT.pack_into(self._map, offset, key, now_ms, max_tokens, 0)
        _USED.pack_into(self._map, 0, used + 1)
        return offset


class SharedTokenBucket:
    """TokenBucket's try_take over a SharedBuckets slot."""

    def __init__(self, store: SharedBuckets, key: int, max_tokens: int, tokens_per_fill: int, fill_interval_ms: int):
        if max_tokens < 1 or tokens_per_fill < 1 or fill_interval_ms < 1:
            raise ValueError("token bucket needs max_tokens, tokens_per_fill and fill_interval_ms >= 1")
        self.store = store
        self.key = key
        self.max_tokens = max_tokens
        self.tokens_per_fill = tokens_per_fill
        self.fill_interval_ms = fill_interval_ms
        self._offset: int | None = None  # slots never move once made

    def try_take(self) -> bool:
        store = self.store
        now_ms = store._clock() // 1_000_000
        with store._locked():
            if self._offset is None:
                self._offset = store._slot(self.key, now_ms, self.max_tokens)
            key, made_ms, tokens, fills = _SLOT.unpack_from(store._map, self._offset)
            due = (now_ms - made_ms) // self.fill_interval_ms
            if due > fills:
                tokens = min(self.max_tokens, tokens + (due - fills) * self.tokens_per_fill)
                fills = due
            took = tokens > 0
            _SLOT.pack_into(store._map, self._offset, key, made_ms, tokens - took, fills)
        return took


def _anonymous_file() -> int:
    """A file descriptor of a file with no name, inherited by fork: a memfd on Linux."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("proxy-shared-buckets")
    with tempfile.TemporaryFile() as f:  # unlinked already; the duplicate outlives the with
        return os.dup(f.fileno())
