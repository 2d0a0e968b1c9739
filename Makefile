# The two commands of the README: `make demo` and `make test`. Each sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint contract protos bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m anomalyd.warmup
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/anomalyd demo

# What the tests run besides Python: each client in another language brings
# clients/<lang>/client.mk, which builds its interop driver (clients/INTEROP.md) and adds it to
# TEST_BUILDS; deploy/deploy.mk adds the server image and the check of the Kubernetes manifests.
TEST_BUILDS :=
include $(wildcard clients/*/client.mk)
include deploy/deploy.mk

test: $(VENV)/.installed lint contract $(TEST_BUILDS)
	$(PY) -m pytest -q

# ruff (pycodestyle, pyflakes, bugbear, naming, google-style docstrings...) and mypy --strict,
# both configured in pyproject.toml.
lint: $(VENV)/.installed
	$(PY) -m ruff check service clients/python tests bench
	$(PY) -m mypy

# The contract: buf lint (STANDARD + COMMENTS), and buf breaking against the last released
# contract, the commit named in protos/BREAKING_BASELINE (move it on at a release).
contract: protos/node_modules/.installed
	cd protos && npx --no-install buf lint
	cd protos && npx --no-install buf breaking --against "../.git#ref=$$(cat BREAKING_BASELINE),subdir=protos"

protos/node_modules/.installed: protos/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (they install buf, which checks the contract)"; exit 1; }
	cd protos && npm ci --silent --no-fund --no-audit
	touch $@

protos: $(VENV)/.installed
	PATH=$(VENV)/bin:$$PATH scripts/gen_protos.sh

bench: $(VENV)/.installed
	$(PY) bench/ingest.py
