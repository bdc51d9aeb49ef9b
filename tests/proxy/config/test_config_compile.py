"""The schema compiles from the installed packages, and proxy/config/gen/ is not stale."""

from pathlib import Path

from proxy.config import compile as compile_module

GEN = Path(compile_module.__file__).resolve().parent / "gen"


def test_validate_proto_comes_from_the_installed_package_not_the_repository():
    found = compile_module.find_validate_proto()
    assert found.name == "validate.proto" and found.is_file()
    repository = Path(compile_module.__file__).resolve().parents[2]
    assert repository not in found.parents or ".venv" in found.parts
    assert not list(repository.joinpath("proxy").rglob("validate.proto"))


def test_compiling_again_gives_exactly_the_checked_out_generated_code(tmp_path):
    written = compile_module.compile_schema(tmp_path)
    assert {p.name for p in written} >= {"bootstrap_pb2.py", "validate_pb2.py"}
    for path in written:
        current = GEN / path.name
        assert current.read_text() == path.read_text(), (
            f"{current} is stale: bootstrap.proto changed since it was compiled; run `make setup`"
        )
    assert "from . import validate_pb2" in (tmp_path / "bootstrap_pb2.py").read_text()
