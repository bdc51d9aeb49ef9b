# proxyfuzz. Two commands on a fresh machine: `make fuzz` and `make test`.
# Every target depends on `setup`, which builds .venv and compiles the config schema.

PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
SCHEMA      := proxy/config/gen/.compiled

FUZZ_TIME ?= 60
HARNESS   ?=
JOBS      ?= 1
CI_FUZZ_TIME ?= 30

.PHONY: setup test test-all lint format fuzz triage ci-fuzz bench clean system-tools bench-tools bench-proxy

setup: $(STAMP) $(SCHEMA) system-tools

# requirements.txt is locked with hashes (scripts/lock-requirements.sh from requirements.in): pip
# refuses any file whose hash differs. The project itself is installed editable, without
# dependencies or a build venv (setuptools is one of the pins), so `./harnesses/fuzz_NAME.py`
# and libFuzzer's fork mode, which re-executes it, import `fuzz` and `proxy` from this tree.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

$(SCHEMA): $(STAMP) $(wildcard proxy/config/*.proto) proxy/config/compile.py
	$(PY) -m proxy.config.compile
	touch $@

# Real peers for end-to-end tests (curl, h2load; nginx, whose generated configuration a bench test checks). Installed from Debian when missing and we are root;
# tests that need them skip with the reason otherwise.
system-tools:
	@bash scripts/system-tools.sh

test: setup lint
	$(PY) -m pytest -m "not slow"
	$(PY) -m fuzz instrumentation check

test-all: setup
	$(PY) -m pytest

# Machine checks (issue 17 §4), configured in pyproject.toml and part of `test`: ruff's lint rules,
# ruff's formatting (`make format` rewrites; a planted-bug patch the rewrite moves is re-cut with
# `python -m fuzz recut-bugs`) and mypy over proxy, fuzz and harnesses.
LINTED = proxy fuzz harnesses tests bench
lint: setup
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) -m mypy proxy fuzz harnesses

format: setup
	$(PY) -m ruff format $(LINTED)

fuzz: setup
	$(PY) -m fuzz fuzz-all --time $(FUZZ_TIME) --jobs $(JOBS) $(if $(HARNESS),--harness $(HARNESS))

triage: setup
	$(PY) -m fuzz triage

ci-fuzz: setup
	$(PY) -m fuzz ci --time $(CI_FUZZ_TIME)

# Proxy throughput beside nginx direct and mitmproxy (issue 3 §5); peers from scripts/bench-tools.sh.
BENCH_PROXY_ARGS ?=
bench-tools: setup
	bash scripts/bench-tools.sh

bench-proxy: setup bench-tools
	timeout 600 $(PY) -m fuzz bench proxy $(BENCH_PROXY_ARGS)

clean:
	rm -rf $(VENV) proxy/config/gen out work
