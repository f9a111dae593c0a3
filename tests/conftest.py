import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from study import config
from study.data import simulate
from study.data.dataset import load_tickets

# `study run` prints PDFs by default when a Chromium is found; the end-to-end tests do not need them
# (tests/test_browser.py asks for them where it checks them), and each would add seconds.
os.environ.setdefault("STUDY_PDF", "no")
# The Spark tests start about ten short-lived local JVMs (the tests' session, and each `study run --engine spark`'s
# runner and kernels), each doing little work: Java's quick compiler alone and its serial collector start them with
# about 40% less CPU (the Spark modules 415 -> 243 s). The numbers do not depend on how the JVM compiles; a user's
# sessions keep Java's defaults.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


@pytest.fixture(scope="module", autouse=True)
def no_kernel_pool_outlives_its_module():
    """A kernel pool left running imports the whole stack and holds it until the test session ends, slowing
    every later test: each module must end what it started."""
    yield
    import psutil

    def is_pool(process: psutil.Process) -> bool:
        try:
            return "study.report.kernel_pool import serve" in " ".join(process.cmdline())
        except psutil.Error:  # ended while looked at
            return False

    left = [p for p in psutil.Process().children() if is_pool(p)]
    assert not left, f"{len(left)} kernel pool(s) still running after this module"


@pytest.fixture(scope="session")
def small_study_path(tmp_path_factory):
    """A 3,000-ticket simulation written as Parquet, with its truth.json beside it."""
    folder = tmp_path_factory.mktemp("small_study")
    data_file, _ = simulate.write(simulate.simulate(rows=3_000, seed=7), folder / "tickets.parquet")
    return data_file


@pytest.fixture(scope="session")
def small_data(small_study_path):
    return load_tickets(small_study_path)


def notebooks_with_a_planted_failure(folder: Path, analysis: str = "04_ab_test") -> Path:
    """A copy of the notebooks in which ``analysis`` ends with a cell raising ``TypeError``.

    Parameters are checked before anything runs, so a bad value can no longer make a notebook fail;
    tests of how a failed analysis is reported plant the failure in a copy instead.
    """
    copy = folder / "notebooks"
    shutil.copytree(config.NOTEBOOKS, copy)
    path = copy / f"{analysis}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('raise TypeError("a failure planted by the tests")'))
    nbformat.write(notebook, path)
    return copy


def study_command(*args: str, notebooks: Path | None = None) -> list[str]:
    """``study ARGS`` as a command line, optionally running the notebooks of another folder."""
    if notebooks is None:
        return [sys.executable, "-m", "study.cli", *args]
    script = ("import sys; from pathlib import Path; from study import config, cli; "
              f"config.NOTEBOOKS = Path({str(notebooks)!r}); sys.exit(cli.main(sys.argv[1:]))")
    return [sys.executable, "-c", script, *args]


# --- study runs shared by several test modules -----------------------------------------------------
# A `study run` costs seconds per notebook; tests that read the same run take it from here, run once per session.

@pytest.fixture(scope="session")
def small_default_run(small_study_path, tmp_path_factory):
    """``study run`` with its defaults on the small simulation: (the finished process, the report folder)."""
    import subprocess

    out = tmp_path_factory.mktemp("small_default_run") / "latest"
    result = subprocess.run(study_command("run", "--data", str(small_study_path), "--out", str(out)),
                            capture_output=True, text=True)
    return result, out


@pytest.fixture(scope="session")
def failed_run(small_study_path, tmp_path_factory):
    """``study run --only 01,04`` on the small simulation with 04 failing on purpose (the finished process, the
    report folder)."""
    import subprocess

    folder = tmp_path_factory.mktemp("failed_run")
    out = folder / "failed"
    command = study_command("run", "--data", str(small_study_path), "--out", str(out), "--only", "01,04",
                            notebooks=notebooks_with_a_planted_failure(folder))
    return subprocess.run(command, capture_output=True, text=True), out
