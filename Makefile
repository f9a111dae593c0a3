# Two commands do everything: `make report` (set up, run the study on the embedded sample) and
# `make test` (set up, run every test including nbval over the notebooks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock
# One venv, one stamp per extra: `make report` installs what running needs; `make test` adds the [test]
# extras (pytest, nbval, hypothesis, playwright, pypdf) and [spark] (pyspark, for the Spark engine's tests)
# and `make lab` adds JupyterLab, each once, on top of it.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
LAB_STAMP := $(VENV)/.installed-lab
# Jupyter refuses to start as root unless told; containers usually run as root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup test-setup bytecode kernel report test browser java lab notebooks benchmark clean

setup: $(STAMP)

test-setup: $(TEST_STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	@# rfc3987-syntax (a jsonschema extra) adds ~1.3 s to every nbformat import and nothing needs it.
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PIP) -e ".[test,spark]"
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $(TEST_STAMP)

$(LAB_STAMP): $(STAMP)
	$(PIP) -e ".[lab]"
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $(LAB_STAMP)

# The package's bytecode, compiled once: where PYTHONDONTWRITEBYTECODE is set (containers, CI), every process
# of a run (runner, workers, kernel pool) and of the tests would otherwise compile it again (0.3 s each).
bytecode: setup
	@# Only a speed-up: a tree it cannot write to is left as it is.
	@$(BIN)/python -m compileall -q src/study >/dev/null 2>&1 || true

report: setup bytecode
	$(BIN)/study run

test: test-setup browser java bytecode
	$(BIN)/python -m pytest

# $(call apt_install,CHECK,PACKAGE,TESTS): install Debian's PACKAGE for the TESTS tests when the shell test
# CHECK fails and we may (root or passwordless sudo, apt-get); otherwise say so and go on, since those
# tests then skip themselves with the reason. `make report` never needs it.
define apt_install
	@if $(1); then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "make: no apt-get to install $(2); the $(3) tests will be skipped"; \
	else \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "make: $(2) is missing and installing it needs root; the $(3) tests will be skipped"; exit 0; fi; \
	  echo "make: installing Debian's $(2) for the $(3) tests"; \
	  { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $(2); } >/dev/null \
	    || echo "make: could not install $(2); the $(3) tests will be skipped"; \
	fi
endef

# The browser tests (tests/test_browser.py) drive Debian's Chromium: playwright's own browser download needs
# a network CI may not have.
browser:
	$(call apt_install,[ -x "$${STUDY_CHROMIUM:-/usr/bin/chromium}" ],chromium,browser)

# The Spark engine's tests (tests/test_spark.py) need Java 17+ (an older one is named as the reason they skip).
java:
	$(call apt_install,{ [ -n "$${JAVA_HOME:-}" ] && [ -x "$$JAVA_HOME/bin/java" ] || command -v java >/dev/null 2>&1; },default-jre-headless,Spark)

# The `study` kernel ("Python (study)") runs this venv's python, so a JupyterLab installed elsewhere
# can pick it and import the package. Registered for the current user (--user), the one place every
# Jupyter of that user looks (--sys-prefix would be seen only by this venv's own Jupyter); run again
# after moving the project. The notebooks keep the standard `python3` kernel name, which is this
# venv's python under `make lab`, nbval and `study run`, and needs no registration.
kernel: setup
	$(BIN)/python -m ipykernel install --user --name study --display-name "Python (study)"

# The kernels give Arrow's freed memory back at once, as `study run`'s do (RETURN_FREED_MEMORY in
# src/study/report/kernel_provisioner.py), unless the environment sets it: the same numbers in less memory.
lab: $(LAB_STAMP) kernel
	MIMALLOC_PURGE_DELAY=$${MIMALLOC_PURGE_DELAY:-0} \
	  $(BIN)/jupyter lab $(LAB_ROOT) --notebook-dir=notebooks --MappingKernelManager.default_kernel_name=study

notebooks: setup
	$(BIN)/study refresh-notebooks

benchmark: setup
	$(BIN)/python benchmarks/run_study.py

# The `study` kernel of `make kernel` runs this venv's python and goes with it; a kernel of that name that
# runs another python is someone else's and stays.
clean:
	@spec="$$($(BIN)/python -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())' 2>/dev/null)/kernels/study"; \
	if [ -f "$$spec/kernel.json" ] && grep -qF '"$(abspath $(BIN))/python"' "$$spec/kernel.json"; then \
	  rm -rf "$$spec" && echo "make: removed the study kernel of this venv"; fi
	rm -rf $(VENV) reports/latest
