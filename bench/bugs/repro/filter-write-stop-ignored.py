"""Network filter contract (write path): a write filter returning STOP_ITERATION drops the chunk; the
peer never gets it. Shown with a small redacting write filter, the kind a user of the filter API
writes, on an in-memory connection."""

from _live import check, ok

from proxy.event import SimulatedDispatcher
from proxy.network import sim
from proxy.network.filter import CONTINUE, STOP_ITERATION, WriteFilter


class Redact(WriteFilter):
    """Drops any chunk that mentions a secret."""

    def on_write(self, data, end_stream):
        return STOP_ITERATION if b"secret" in data.bytes() else CONTINUE


dispatcher = SimulatedDispatcher()
conn = sim.accept(dispatcher)
conn.add_write_filter(Redact())
conn.initialize_read_filters()
conn.on_connected()
conn.write(b"hello ")
conn.write(b"the secret is 42 ")
conn.write(b"bye")
dispatcher.run_posted()
seen = conn.io.peer_read()
check(b"secret" not in seen, f"a chunk the write filter stopped reached the peer: it read {seen!r}")
check(seen == b"hello bye", f"the peer read {seen!r}, expected the two chunks the filter let through")
ok("the stopped chunk was dropped; the others went out")
