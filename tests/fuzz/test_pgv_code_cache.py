"""The disk cache of protoc-gen-validate's rendered validators (fuzz/targets/pgv_code_cache.py): what
it serves is PGV's own rendering of the type, the reference's verdicts are PGV's, and an entry is
keyed by what the rendering depends on (another descriptor view or schema file is rendered again)."""

from pathlib import Path

import pytest

pgv = pytest.importorskip("protoc_gen_validate.validator")

from proxy.config.gen import bootstrap_pb2  # noqa: E402
from proxy.config.load import load_file  # noqa: E402
from fuzz.targets import pgv_code_cache, pgv_reference  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
VIEW = Path(pgv_reference.__file__).read_bytes()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(pgv_code_cache.CACHE_ENV, str(tmp_path / "pgv"))
    original_init, original_inner = pgv.ValidatingMessage.__init__, pgv._validate_inner
    pgv_reference.install()
    pgv_code_cache.install(pgv, VIEW)  # a fresh in-process memory over the temporary directory
    yield tmp_path / "pgv"
    pgv.ValidatingMessage.__init__, pgv._validate_inner = original_init, original_inner
    pgv._validate_inner.cache_clear()


def _wrapped(message_class):
    return pgv.ValidatingMessage(message_class())


def _every_type(descriptor=bootstrap_pb2.DESCRIPTOR):
    for message in descriptor.message_types_by_name.values():
        yield from _nested(message)


def _nested(message):
    yield message
    for inner in message.nested_types:
        yield from _nested(inner)


def test_every_type_is_served_as_pgv_renders_it(cache):
    types = [t for t in _every_type() if not t.GetOptions().map_entry]
    for descriptor in types:
        wrapped = pgv.ValidatingMessage(bootstrap_pb2.Bootstrap())  # any instance: only DESCRIPTOR is read
        wrapped.DESCRIPTOR = pgv_reference._Message(descriptor)
        pgv._validate_inner(wrapped)
        stored = pgv_code_cache._entry_path(descriptor, pgv, VIEW).read_text()
        assert stored == pgv.file_template(wrapped), descriptor.full_name
    assert len(list(cache.glob("*.py"))) == len(types)


def test_verdicts_with_the_cache_warm_are_pgvs(cache, monkeypatch):
    examples = [load_file(p) for p in sorted((REPO / "examples").glob("*.yaml"))]
    refused = bootstrap_pb2.Bootstrap()
    refused.CopyFrom(examples[0])
    refused.listeners[0].name = "not a name"  # ^[a-zA-Z0-9_.-]+$
    messages = examples + [refused]
    cold = [pgv_reference.pgv_accepts(m) for m in messages]
    pgv_code_cache.install(pgv, VIEW)  # a new process: nothing rendered in memory, all on disk
    monkeypatch.setattr(pgv, "file_template", lambda wrapped: pytest.fail("rendered again with the cache warm"))
    warm = [pgv_reference.pgv_accepts(m) for m in messages]
    assert warm == cold
    assert cold[-1] is False and all(cold[:-1])


def test_a_stored_entry_is_what_runs(cache):
    """The cache is read (a planted entry is served), so the key below is what keeps it honest."""
    pgv._validate_inner(_wrapped(bootstrap_pb2.Bootstrap))
    entry = pgv_code_cache._entry_path(bootstrap_pb2.Bootstrap.DESCRIPTOR, pgv, VIEW)
    entry.write_text("def generate_validate(p):\n    raise ValidationFailed('planted')\n")
    pgv_code_cache.install(pgv, VIEW)
    with pytest.raises(pgv.ValidationFailed, match="planted"):
        pgv.validate(bootstrap_pb2.Bootstrap())


def test_the_key_follows_the_view_the_schema_and_the_type(cache):
    bootstrap = bootstrap_pb2.Bootstrap.DESCRIPTOR
    listener = bootstrap_pb2.Listener.DESCRIPTOR
    base = pgv_code_cache._entry_path(bootstrap, pgv, VIEW)
    assert pgv_code_cache._entry_path(bootstrap, pgv, VIEW + b"#") != base
    assert pgv_code_cache._entry_path(listener, pgv, VIEW) != base
    assert pgv_code_cache._entry_path(bootstrap, pgv, VIEW) == base


def test_a_changed_schema_file_changes_the_key():
    class File:
        def __init__(self, serialized, dependencies=()):
            self.serialized_pb, self.dependencies = serialized, dependencies

    validate = File(b"validate rules")
    assert pgv_code_cache._file_digest(File(b"schema", (validate,))) != pgv_code_cache._file_digest(
        File(b"schema", (File(b"validate rules, edited"),))
    )
    assert pgv_code_cache._file_digest(File(b"schema")) != pgv_code_cache._file_digest(File(b"schema, edited"))


def test_off_renders_every_process(tmp_path, monkeypatch):
    monkeypatch.setenv(pgv_code_cache.CACHE_ENV, "off")
    assert pgv_code_cache._entry_path(bootstrap_pb2.Bootstrap.DESCRIPTOR, pgv, VIEW) is None
