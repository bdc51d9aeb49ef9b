"""Network filter contract: once a connection is closed no read filter gets on_data any more. A filter
written after the fault throttle (here a recorder, the kind a user of the filter API writes) must not
be handed the throttle's held bytes or end of stream after the client reset the connection
(in memory, on virtual time)."""

from _live import check, guarded, in_memory, ok, tcp_config

from proxy.network import sim
from proxy.network.filter import STOP_ITERATION, ReadFilter
from proxy.network.filters.fault import FaultConfig, FaultFilter
from proxy.network.filters._stats import stat_scopes


class Recorder(ReadFilter):
    def __init__(self):
        self.calls = []

    def on_data(self, data, end_stream):
        self.calls.append((len(data), end_stream, self.callbacks.connection.is_open))
        data.drain(len(data))
        return STOP_ITERATION


_, ctx, dispatcher, _ = in_memory(tcp_config(9000))
conn = sim.accept(dispatcher)
conn.enable_half_close(True)  # as tcp_proxy does: a FIN ends the read side only
recorder = Recorder()
conn.add_read_filter(
    FaultFilter(FaultConfig(delay_ms=0, throttle_bytes_per_sec=10, stat_scopes=stat_scopes("fault")), ctx)
)
conn.add_read_filter(recorder)
conn.on_connected()
guarded(conn.initialize_read_filters)
conn.io.peer_send(b"x" * 50, end_stream=True)  # 10 bytes pass now; 40 and the end wait for later windows
guarded(dispatcher.run_posted)
conn.io.peer_reset()  # the client aborts
guarded(dispatcher.run_posted)
guarded(lambda: dispatcher.advance(5000))
after_close = [call for call in recorder.calls if not call[2]]
check(
    not after_close,
    f"a read filter got on_data after the connection closed: {after_close} (all calls: {recorder.calls})",
)
ok(f"the filter's calls all came while the connection was open: {recorder.calls}")
