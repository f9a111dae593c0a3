# Two commands do everything: `make report` (set up, run the study on the embedded sample) and
# `make test` (set up, run every test including nbval over the notebooks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup report test lab notebooks benchmark clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
	@# rfc3987-syntax (a jsonschema extra) adds ~1.3 s to every nbformat import and nothing needs it.
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $(STAMP)

report: setup
	$(BIN)/study run

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab notebooks

notebooks: setup
	$(BIN)/study refresh-notebooks

benchmark: setup
	$(BIN)/python benchmarks/run_study.py

clean:
	rm -rf $(VENV) reports/latest
