"""Request targets path handling gets wrong in the wild (fuzz/mutators/vocab.py TARGETS, appended):
encoded dot segments, "//" in a query's URL, a query of a few KiB, an upper-case %2F. The HTTP/1.1 and HTTP/2 templates
and the start-line mutation draw them, so a session's raw request carries them from an empty corpus,
and the session's models judge them: planted, a merge_slashes applied to the query is caught."""

import random

import pytest

from fuzz.mutators import http1, http2, vocab
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.http import conn_manager, path
from tests.fuzz.test_liveness import http

QUERY_URL = b"//a//b?next=https://a.example//c/../d"
NEW = (b"/static/%2e%2E/admin", QUERY_URL, b"/search?sso=" + b"A" * 3000, b"/admin%2Fusers%5Cx")


def test_templates_draw_the_appended_targets():
    rng = random.Random(3)
    h1 = {http1.template(rng).raw().split(b" ", 2)[1] for _ in range(3000)}
    h2 = b"".join(http2.new_capture(rng).raw() for _ in range(300))
    assert set(NEW) <= h1 and set(NEW) <= set(vocab.TARGETS)
    assert b"%2e%2E" in h2 or b"sso=" in h2  # HPACK may index or Huffman-code the others


def _request(target: bytes):
    raw = b"GET " + target + b" HTTP/1.1\r\nHost: a.example\r\n\r\n"
    return [A("connect"), A("send", 0, payload=raw), A("upstream_connect"), A("upstream_read"), A("read")]


def test_a_merge_of_the_querys_slashes_is_caught(monkeypatch):
    built = http(limit=1 << 16, hcm="merge_slashes: true")
    Session(built, models=True).run(_request(QUERY_URL))  # the clean proxy: no finding

    def merges_the_query_too(target, options):  # the planted bug
        outcome = path.apply_path_options(target, options)
        if options.merge_slashes:
            return path.PathOutcome(outcome.action, path._SLASHES.sub(b"/", outcome.path))
        return outcome

    monkeypatch.setattr(conn_manager, "apply_path_options", merges_the_query_too)
    with pytest.raises(InvariantViolation):
        Session(built, models=True).run(_request(QUERY_URL))
