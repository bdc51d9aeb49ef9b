"""An HTTP filter's timers end with its stream.

The HTTP filter contract (proxy/http/filter.py, Envoy's StreamFilterBase::onDestroy): on_destroy()
is where a filter cancels its timers. A timer a filter armed that still fires after its stream was
destroyed runs the filter on a stream nobody owns any more (in Envoy, a use after free): a fault
delay resuming a request the client reset, a route timeout answering a stream already gone.

`watch(dispatcher)` is a watcher: it wraps the dispatcher's create_timer so that each timer whose
callback is a method of an HTTP filter checks, when it fires, that the filter's stream was not
destroyed; the timer, its deadlines and its callback are otherwise unchanged.
"""

from proxy.http.filter import StreamFilter

from fuzz.oracles import InvariantViolation


def stream_destroyed(owner: StreamFilter) -> bool:
    """Whether the filter chain `owner` belongs to ran every filter's on_destroy."""
    chain = getattr(getattr(owner, "decoder_callbacks", None), "chain", None)
    return bool(getattr(chain, "destroyed", False))


def watch(dispatcher) -> None:
    create = dispatcher.create_timer

    def create_timer(callback):
        owner = getattr(callback, "__self__", None)
        if not isinstance(owner, StreamFilter):
            return create(callback)

        def fire() -> None:
            if stream_destroyed(owner):
                raise InvariantViolation(
                    "http_filter_timer_after_destroy",
                    f"{type(owner).__name__}.{callback.__name__} fired after the stream's on_destroy",
                    judged=owner,
                    expected="the filter's timers disabled by on_destroy",
                    observed=f"{callback.__name__} ran at {dispatcher.now_ms()} ms",
                )
            callback()

        return create(fire)

    dispatcher.create_timer = create_timer
