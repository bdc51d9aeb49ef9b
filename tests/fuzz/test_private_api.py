"""fuzz/private_api.py: the private APIs the engine uses exist in the installed versions, and a
missing one is named in the error instead of surfacing as an AttributeError deep in a harness."""

import re

import pytest

from fuzz import private_api
from fuzz.targets.route import regex_is_bounded


def test_the_installed_versions_have_every_private_api():
    with private_api.counting_counters() as seen:
        pass
    assert seen == [0]
    assert private_api.is_instrumentable(test_the_installed_versions_have_every_private_api)
    assert private_api.parse_regex("a+b")
    assert private_api.regex_constants().MAX_REPEAT
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        for part in ("_ready", "_scheduled", "_transports", "_selector", "_create_connection_transport"):
            assert private_api.selector_loop_part(loop, part) is not None
    finally:
        loop.close()
    assert private_api.asyncio_server_class()


def test_a_missing_api_is_named_with_the_version(monkeypatch):
    monkeypatch.delattr(re, "_parser")
    with pytest.raises(private_api.PrivateApiMissing, match=r"re\._parser is missing in version 3\."):
        private_api.parse_regex("a+")
    # the route harness does not mistake it for an invalid pattern (which it treats as bounded)
    with pytest.raises(private_api.PrivateApiMissing):
        regex_is_bounded("(a+)+")


def test_counting_counters_restores_atheris_even_when_the_block_fails():
    import atheris

    real = atheris._reserve_counter
    with pytest.raises(ZeroDivisionError):
        with private_api.counting_counters():
            1 / 0
    assert atheris._reserve_counter is real
