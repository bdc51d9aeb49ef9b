"""fuzz/private_api.py: the private APIs the engine uses exist in the installed versions, and a
missing one is named in the error instead of surfacing as an AttributeError deep in a harness."""

import pytest

from fuzz import private_api


def test_the_installed_versions_have_every_private_api():
    with private_api.counting_counters() as seen:
        pass
    assert seen == [0]
    assert private_api.is_instrumentable(test_the_installed_versions_have_every_private_api)
    assert private_api.atheris_instrumentor()
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        for part in ("_ready", "_scheduled", "_transports", "_selector", "_create_connection_transport"):
            assert private_api.selector_loop_part(loop, part) is not None
    finally:
        loop.close()
    assert private_api.asyncio_server_class()


def test_a_missing_api_is_named_with_the_version(monkeypatch):
    from asyncio import base_events

    monkeypatch.delattr(base_events, "Server")
    with pytest.raises(private_api.PrivateApiMissing, match=r"base_events\.Server is missing in version 3\."):
        private_api.asyncio_server_class()


def test_counting_counters_restores_atheris_even_when_the_block_fails():
    import atheris

    real = atheris._reserve_counter
    with pytest.raises(ZeroDivisionError):
        with private_api.counting_counters():
            1 / 0
    assert atheris._reserve_counter is real
