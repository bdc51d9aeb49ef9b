"""fuzz/closing.py: a downstream HTTP connection the proxy closes ends within Envoy's delayed close
timeout when its client reads nothing. Real sessions; the planted bug takes the proxy's bound away."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.network.connection import Connection
from tests.fuzz.test_liveness import http

# A request the HTTP/1.1 codec refuses: 400 and a FLUSH_WRITE close, which the client never reads.
REFUSED = [A("connect"), A("send", payload=b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n")]


@pytest.mark.parametrize(("advance", "timed_out"), [(500, 0), (1500, 1)])
def test_a_closing_connection_ends_without_its_client_reading(advance, timed_out):
    """Before the bound the client (settling) reads the 400 and the close; after it the proxy closed."""
    s = Session(http(limit=1 << 20, codec="AUTO")).run(REFUSED + [A("advance", value=advance)])
    assert s.ctx.stats.counter("http.downstream_cx_delayed_close_timeout") == timed_out


def test_planted_unbounded_flush_is_caught(monkeypatch):
    monkeypatch.setattr(Connection, "set_delayed_close_timeout", lambda self, ms: None)
    with pytest.raises(InvariantViolation, match="closing_connection_held"):
        Session(http(limit=1 << 20, codec="AUTO")).run(REFUSED + [A("advance", value=1500)])
