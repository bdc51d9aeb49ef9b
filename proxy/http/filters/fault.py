"""HTTP fault injection: abort a share of requests with a status, delay the others.

abort_percent of the requests (drawn from the instance's seeded random) get a local reply with
abort_status (response flag FI). Every request not aborted is held for delay_ms (a dispatcher
timer: virtual time under test) before it goes on (response flag DI); its body is buffered
meanwhile, within the stream's buffer limit.

Counters `http.fault.`: aborts_injected, delays_injected.
"""

from dataclasses import dataclass

from ...build_context import BuildContext
from ...event import Timer
from ..filter import CONTINUE, STOP_ALL_ITERATION, STOP_ITERATION, StreamFilter
from ..registry import register_http_filter


@dataclass(frozen=True, eq=False)
class HttpFaultConfig:
    abort_status: int
    abort_percent: int
    delay_ms: int


@register_http_filter("fault")
def http_fault_factory(msg, build: BuildContext):
    status = msg.abort_status if msg.HasField("abort_status") else 0
    if msg.abort_percent > 0 and not status:
        raise build.error("abort_status is required when abort_percent > 0", "abort_status")
    config = HttpFaultConfig(abort_status=status, abort_percent=msg.abort_percent, delay_ms=msg.delay_ms)
    return lambda ctx: HttpFaultFilter(config, ctx)


class HttpFaultFilter(StreamFilter):
    def __init__(self, config: HttpFaultConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx
        self._timer: Timer | None = None

    def decode_headers(self, head, end_stream):
        c = self.config
        cb = self.decoder_callbacks
        if c.abort_percent and self.ctx.random.randrange(100) < c.abort_percent:
            self.ctx.stats.inc("http.fault.aborts_injected")
            cb.send_local_reply(c.abort_status, b"fault filter abort\n", flags="FI")
            return STOP_ITERATION
        if c.delay_ms:
            self.ctx.stats.inc("http.fault.delays_injected")
            cb.stream_info.setdefault("response_flags", []).append("DI")
            self._timer = cb.dispatcher.create_timer(self._delay_over)
            self._timer.enable(c.delay_ms)
            return STOP_ALL_ITERATION
        return CONTINUE

    def _delay_over(self) -> None:
        self._timer = None
        self.decoder_callbacks.continue_decoding()

    def on_destroy(self) -> None:
        if self._timer is not None:
            self._timer.disable()
            self._timer = None
