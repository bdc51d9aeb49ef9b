"""network_oracle's accept check on the TLS listener: a connection a filter allowed whose TLS
handshake then failed in the same action (an upstream connect that completes at once lets the
dispatcher run that far) was read as the filter's close at accept; the clean proxy failed
model_local_ratelimit_decision from an empty corpus within seconds. The filter's own close of an
allowed connection is still caught."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from fuzz.targets import network_filter as nf
from proxy.config import schema
from proxy.network.connection import CloseType
from proxy.network.filter import CONTINUE
from proxy.network.filters import local_ratelimit

BUCKET = schema.message_class(schema.NetworkFilter.DESCRIPTOR.fields_by_name["local_ratelimit"].message_type)(
    max_tokens=473, tokens_per_fill=3, fill_interval_ms=63, stat_prefix="ua"
)
TRUSTED, UNTRUSTED = 0b01001, 0b10001  # fuzz/tls_session.py: TLS with the test CA's / another CA's certificate


def _run(mode: int) -> None:
    actions = [A("upstream_accept_next", value=0), A("connect_tls", value=1, payload=bytes([mode]))]
    nf.run(nf.seed("local_ratelimit", BUCKET, 0, actions))


def test_an_allowed_connection_whose_handshake_fails_at_once_is_no_filter_close():
    _run(UNTRUSTED)
    _run(TRUSTED)


def test_an_allowed_connection_the_filter_closes_is_caught(monkeypatch):
    allow = local_ratelimit.LocalRateLimitFilter.on_new_connection

    def closes_what_it_allows(self):  # the planted bug
        status = allow(self)
        if status == CONTINUE:
            self.callbacks.connection.close(CloseType.NO_FLUSH)
        return status

    monkeypatch.setattr(local_ratelimit.LocalRateLimitFilter, "on_new_connection", closes_what_it_allows)
    with pytest.raises(InvariantViolation, match="model_local_ratelimit_decision"):
        _run(TRUSTED)
