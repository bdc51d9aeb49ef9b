"""Helpers for TLS tests (no tests of its own): real ClientHellos from the standard library and the
same handshake re-framed into smaller records, as the listener_filter harness writes its seeds."""

from fuzz.targets.listener_filter import client_hello, reframe  # noqa: F401
