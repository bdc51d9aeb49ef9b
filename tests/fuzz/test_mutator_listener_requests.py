"""listener_filter's mutator puts the start of an HTTP request (a request line with its CRLF, the
HTTP/2 preface) in front of a raw input whose filters include http_inspector. Planted: a request
line whose CR and LF arrive in different reads is read as not HTTP; the harness's split run (read
size 1) disagrees with the whole run."""

import random

import pytest

from fuzz.mutators import listener
from fuzz.oracles import InvariantViolation
from fuzz.targets import listener_filter as lf
from proxy.network.listener_filters import http_inspector

INSPECTOR = lf.FILTER_SETS.index(("http_inspector",))
READ_ONE = lf.READ_SIZES.index(1)


def _requests(n: int) -> list[bytes]:
    out = []
    for seed in range(n):
        data = bytes([INSPECTOR, READ_ONE, 0]) + random.Random(seed).randbytes(seed % 5)
        out.append(listener.request_first(data, random.Random(seed)))
    return out


def test_raw_inputs_that_look_for_http_get_a_request_first():
    mutator = listener.listener_filter()
    mutator.bytes_share = 0.0
    kinds = set()
    for i in range(300):
        result = mutator.structured(bytes([INSPECTOR, READ_ONE, 0]) + b"xyz", 4096, random.Random(i))
        if result:
            kinds.update(result[0])
    assert "http.request_first" in kinds
    assert all(b" HTTP/" in data or b"PRI * " in data for data in _requests(20))


def test_a_request_line_split_between_cr_and_lf_is_caught(monkeypatch):
    inputs = _requests(12)
    for data in inputs:  # the clean inspector: one answer for every split
        lf.run(data)
    ok = http_inspector._line_so_far_ok

    def cr_not_a_line_end(line):  # the planted bug: a version followed by its CR is no prefix
        version = line.rsplit(b" ", 1)[-1]
        if line.count(b" ") >= 2 and version.endswith(b"\r"):
            return any(v.startswith(version) for v in http_inspector._VERSIONS)
        return ok(line)

    monkeypatch.setattr(http_inspector, "_line_so_far_ok", cr_not_a_line_end)
    caught = 0
    for data in inputs:
        try:
            lf.run(data)
        except InvariantViolation:
            caught += 1
    assert caught >= 1, len(inputs)


@pytest.mark.parametrize("start", listener.REQUEST_STARTS)
def test_every_request_start_is_http_to_the_inspector(start):
    assert http_inspector.inspect(start) in ("http/1.1", "http/1.0", "h2c")
