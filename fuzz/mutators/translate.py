"""http_translate's three input modes (fuzz/targets/translate.py): the HTTP/2 client preface
starts raw h2 bytes (the h2 mutator), 0x00 starts structured h2 requests read with
FuzzedDataProvider (left to the byte mutator: its layout is the provider's), anything else is raw
HTTP/1.1 requests (the h1 mutator). Now and then an input is replaced by a fresh one of the other
raw mode, so each mode is reached from an empty corpus."""

from fuzz.mutators import http1, http2
from fuzz.mutators.base import Mutator

FDP_MODE = b"\x00"


class Translate(Mutator):
    name = "translate"
    switch_share = 0.05

    def __init__(self, byte_mutate=None) -> None:
        super().__init__(byte_mutate)
        self.h1 = http1.Http1(byte_mutate)
        self.h2 = http2.Http2(byte_mutate)
        self.h2.new_share = 0.0  # mode switches are ours

    def structured(self, data, max_size, rng):
        h2 = data.startswith(http2.PREFACE)
        if not data:  # libFuzzer's first, empty input: a fresh message of either mode
            fresh = http2.new_capture(rng).raw() if rng.random() < 0.5 else http1.template(rng).raw()
            return ["translate.fresh"], fresh
        if rng.random() < self.switch_share:
            fresh = http1.template(rng).raw() if h2 else http2.new_capture(rng).raw()
            return ["translate.mode_switch"], fresh
        if h2:
            return self.h2.mutate_capture(data, rng)
        if data[:1] == FDP_MODE:
            return None
        return self.h1.mutate_stream(data, rng)

    def splice(self, data1, data2, max_size, rng):
        if data1.startswith(http2.PREFACE):
            return self.h2.splice(data1, data2, max_size, rng)
        if data1[:1] == FDP_MODE or data2[:1] == FDP_MODE or data2.startswith(http2.PREFACE):
            return super().splice(data1, data2, max_size, rng)
        return self.h1.splice(data1, data2, max_size, rng)
