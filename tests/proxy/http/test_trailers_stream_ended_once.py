"""A response whose trailers go out while the connection ends under them (the codec closes it in
after_send, ending every stream) ends its stream once: write_trailers, as write_headers and write_data
do, ends the stream only if after_send did not. Found by the network_filter fuzzer on a clean tree
(StreamEndedTwiceError from ActiveStream.write_trailers, three crashes in the round-8 bench run of
16e0034); the regression seed is that input."""

from pathlib import Path

from fuzz.targets import network_filter

SEED = (
    Path(__file__).resolve().parents[3] / "corpus/network_filter/regress-trailers-after-the-connection-ended-the-stream"
)


def test_the_seed_ends_every_stream_once():
    network_filter.run(SEED.read_bytes())  # raised StreamEndedTwiceError before the fix
