# The two commands of the README: `make demo` and `make test`. Each sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test protos bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/anomalyd demo

# Each client in another language brings clients/<lang>/client.mk, which builds its interop
# driver (clients/INTEROP.md) and adds it to CLIENT_DRIVERS for the tests to run.
CLIENT_DRIVERS :=
include $(wildcard clients/*/client.mk)

test: $(VENV)/.installed $(CLIENT_DRIVERS)
	$(PY) -m pytest -q

protos: $(VENV)/.installed
	PATH=$(VENV)/bin:$$PATH scripts/gen_protos.sh

bench: $(VENV)/.installed
	$(PY) bench/ingest.py
