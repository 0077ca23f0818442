# Set-up is two commands on a fresh machine: `make test` (and, with the training issue, `make demo`).
# Each creates .venv if missing and installs requirements.txt into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test lint format summary clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

summary: $(VENV)/.installed
	$(PY) -m c2f.model --config configs/paper.py

clean:
	rm -rf .cache .pytest_cache
