"""Oracles over a session's records: placeholder, filled in by the conformance and meaning checks."""


def check(peers) -> None:
    pass
