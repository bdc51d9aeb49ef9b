"""h2_codec's action inputs (read with FuzzedDataProvider by fuzz/targets/h2pair.py), given a
prologue of whole actions, encoded with fuzz/mutators/fdp.py so they run first and the input's own
actions run after them unchanged.

The prologue is the start the byte mutator almost never builds, because its steps must come in
order before anything else: one codec made anew with SETTINGS from the configuration's bounds
(act_settings, only before any byte moved), both SETTINGS frames read and acknowledged, then often
a request whose body is sent at once, at the frame size limits (LARGE_BODIES) half the time; or (a
quarter) streams opened before the client read the server's SETTINGS; or (a tenth, no SETTINGS action)
a long-lived client that cancels one stream in 2-5 over 60-150 streams (cancelling_client). Envoy's
codec fuzzer starts from a configured pair the same way; every limit SETTINGS_CHOICES offers
(concurrency 1-3, windows, frame sizes, header list sizes) is then in force for the rest."""

import random

from fuzz.mutators.fdp import Script
from fuzz.targets import h2pair

_INDEX = {action: i for i, action in reversed(list(enumerate(h2pair.ACTIONS)))}


def _action(script: Script, action) -> None:
    script.pick(_INDEX[action], len(h2pair.ACTIONS))


def settings(script: Script, client: bool, choice: int) -> None:
    _action(script, h2pair.act_settings)
    script.boolean(client)
    script.integer(choice, 0, 255)


def drain(script: Script, client: bool, fragments: int) -> None:
    _action(script, h2pair.act_drain)
    script.boolean(client)
    script.boolean(True)  # whole fragments (an even count arrives in one read)
    script.integer(fragments, 1, 8)


def new_stream(script: Script, rng: random.Random, end: bool) -> None:
    _action(script, h2pair.act_new_stream)
    for values in (h2pair.METHODS, h2pair.PATHS, h2pair.AUTHORITIES, h2pair.SCHEMES):
        script.pick(rng.randrange(len(values)), len(values))
    script.integer(0, 0, 4)  # no extra fields
    script.boolean(end)


def request_data(script: Script, rng: random.Random, large: bool, end: bool) -> None:
    """Data on the one open stream: a LARGE_BODIES size or a few bytes."""
    _action(script, h2pair.act_request_data)
    n = rng.randrange(h2pair._SMALL_BODY + 1, 2049) if large else rng.randrange(17)
    script.integer(n, 0, 2048)
    script.raw(rng.randbytes(8 if large else n))
    script.boolean(end)


def reset_newest(script: Script, open_streams: int) -> None:
    """The client resets its newest stream (act_reset picks among its streams not reset, sorted)."""
    _action(script, h2pair.act_reset)
    script.boolean(True)  # the client's side
    script.pick(open_streams - 1, open_streams)


def cancelling_client(script: Script, rng: random.Random, every: int = 0, streams: int = 0) -> None:
    """A long-lived client that cancels one stream in `every` (a browser navigating away), over more
    streams than a rapid-reset window (100) holds: per-connection state that should only look at
    recent streams (Envoy's rapid-reset mitigation, CVE-2023-44487) is tried on a connection whose
    lifetime holds far more cancels than any window."""
    for client in (False, True, False, True):  # SETTINGS and their ACKs first
        drain(script, client, 8)
    every, streams = every or rng.randrange(2, 6), streams or rng.randrange(60, 150)
    kept = 0  # client streams not reset: what act_reset picks among
    for i in range(streams):
        new_stream(script, rng, end=True)
        kept += 1
        if i % every == every - 1:
            reset_newest(script, kept)
            kept -= 1
        if i % 4 == 3:
            drain(script, True, 8)
    drain(script, True, 8)
    drain(script, False, 8)


def prologue(rng: random.Random) -> Script:
    script = Script()
    if rng.random() < 0.1:
        cancelling_client(script, rng)
        return script
    settings(script, client=rng.random() < 0.25, choice=rng.randrange(256))
    if rng.random() < 0.25:
        # The client opens streams before it has read the server's SETTINGS (RFC 9113 5.1.2 lets it:
        # a stream over a limit it has not seen is refused alone), then everything is read.
        for _ in range(rng.randrange(2, 5)):
            new_stream(script, rng, end=rng.random() < 0.7)
        drain(script, True, 8)
        return script
    for client in (False, True, False, True):  # each side's SETTINGS, then each side's ACK
        drain(script, client, 8)
    if rng.random() < 0.7:
        new_stream(script, rng, end=False)
        request_data(script, rng, large=rng.random() < 0.5, end=rng.random() < 0.5)
        drain(script, True, rng.choice((1, 2, 8)))
    return script
