"""`python -m proxy --validate FILE` and `-c FILE`, run as a user would: exit codes, output, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.proxy.config.test_config_support import ISSUE2_YAML, ISSUE3_YAML

ROOT = Path(__file__).resolve().parents[3]


def run(*args, code=None):
    command = [sys.executable, "-m", "proxy", *args] if code is None else [sys.executable, "-c", code, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stdout + done.stderr
    return done


@pytest.mark.parametrize("content", [ISSUE2_YAML, ISSUE3_YAML], ids=["issue2", "issue3"])
def test_validate_prints_ok_for_the_issue_examples(tmp_path, content):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    done = run("--validate", str(path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "OK\n", "")


def test_validate_prints_every_violation_on_its_own_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(
        ISSUE2_YAML.replace(b"port: 9000", b"port: 0")
        .replace(b"name: tcp_in", b"name: tcp in")
        .replace(b"{cluster: echo}", b"{cluster: nowhere}")
    )
    done = run("--validate", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "listeners[0].name: must match pattern ^[a-zA-Z0-9_.-]+$",
        "clusters[0].endpoints[0].port: must be in 1..65535",
        "listeners[0].filter_chains[0].filters[0].tcp_proxy.cluster: unknown cluster 'nowhere'",
    ]


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty configuration"),
        (b"\x00\xff\x13\x37binary\x00", "not a binary protobuf Bootstrap"),
        (b"this: [is: not, yaml", "not valid YAML"),
        (b"a: &x [*x]", "YAML aliases"),
        (b"a: " + b"[" * 100_000, "nest"),
    ],
    ids=["empty", "binary", "not-yaml", "alias", "deep"],
)
def test_validate_reports_unreadable_files_without_a_traceback(tmp_path, content, expected):
    path = tmp_path / "config"
    path.write_bytes(content)
    done = run("--validate", str(path))
    assert done.returncode == 1
    assert expected in done.stdout


def test_validate_missing_file(tmp_path):
    done = run("--validate", str(tmp_path / "absent.yaml"))
    assert done.returncode == 1
    assert done.stdout.startswith("cannot read ")


def test_validate_with_an_explicit_format(tmp_path):
    path = tmp_path / "config.txt"
    path.write_bytes(ISSUE2_YAML)
    assert run("--validate", str(path), "--format", "yaml").stdout == "OK\n"
    done = run("--validate", str(path), "--format", "json")
    assert done.returncode == 1 and "not valid JSON" in done.stdout


def test_usage_errors_exit_2():
    done = run()
    assert done.returncode == 2 and "usage:" in done.stderr


def test_serve_with_an_invalid_config_prints_violations_and_exits_1(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"listeners: []\n")
    done = run("-c", str(path))
    assert (done.returncode, done.stdout) == (1, "listeners: must have at least 1 item\n")


def test_uncompiled_schema_says_run_make_setup(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_bytes(ISSUE2_YAML)
    code = (
        "import sys; sys.modules['proxy.config.gen'] = None; "
        "from proxy.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    done = run("--validate", str(path), code=code)
    assert done.returncode == 2
    assert "run `make setup`" in done.stderr


def test_validate_names_an_upstream_sni_with_a_nul_byte(tmp_path):
    # The ssl module raises TypeError for a NUL in server_hostname, and --validate printed a
    # traceback beside the pattern violation (found by fuzz run config on a clean clone).
    path = tmp_path / "nul-sni.yaml"
    path.write_bytes(ISSUE2_YAML + b'    tls_context: {sni: "backend.example\\0x"}\n')
    done = run("--validate", str(path))
    assert done.returncode == 1
    assert done.stdout.startswith("clusters[0].tls_context.sni: must match pattern")


MUTATION_YAML = ISSUE3_YAML.replace(
    b"              route_config:",
    b"              http_filters:\n"
    b"                - header_mutation: {response_headers_to_add: {NAME: trailers}}\n"
    b"              route_config:",
)


@pytest.mark.parametrize("name", [b"te", b"content-length", b"host"])
def test_validate_names_a_header_mutation_adding_a_field_the_codecs_own(tmp_path, name):
    # fuzz run http_filter on a clean clone (validated_http_filter_config_does_not_build): --validate
    # printed OK for `te` in response_headers_to_add, then `-c` refused to start with the same file.
    path = tmp_path / "mutation.yaml"
    path.write_bytes(MUTATION_YAML.replace(b"NAME", name))
    done = run("--validate", str(path))
    assert done.returncode == 1
    assert done.stdout.startswith(
        "listeners[0].filter_chains[0].filters[0].http_connection_manager.http_filters[0].header_mutation"
        f'.response_headers_to_add["{name.decode()}"]: key must not be one of'
    )


def test_validate_builds_what_it_calls_ok(tmp_path):
    # Whatever the proxy refuses when it builds a configuration, --validate names too: a filter that
    # refuses one more name at build time (as header_mutation refused `te` before the schema did).
    path = tmp_path / "mutation.yaml"
    path.write_bytes(MUTATION_YAML.replace(b"NAME", b"x-reserved"))
    assert run("--validate", str(path)).stdout == "OK\n"
    plant = (
        "import sys; from proxy.http.filters import header_mutation as h; "
        "h._RESERVED = h._RESERVED | {'x-reserved'}; from proxy.__main__ import main; sys.exit(main())"
    )
    done = run("--validate", str(path), code=plant)
    assert done.returncode == 1
    assert done.stdout.endswith(
        "header_mutation.response_headers_to_add[x-reserved]: 'x-reserved' cannot be added: the codecs own it\n"
    )
