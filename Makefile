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

test: $(VENV)/.installed
	$(PY) -m pytest -q

protos: $(VENV)/.installed
	PATH=$(VENV)/bin:$$PATH scripts/gen_protos.sh

bench: $(VENV)/.installed
	$(PY) bench/ingest.py
