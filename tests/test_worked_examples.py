"""Every worked example of data/examples/ runs by the commands its column map documents.

Each map's header names its data file (``# study run --data data/examples/... --columns ...``). Run with
it, every analysis either runs or is skipped with its reason; no finding is degenerate; and every
analysis accounts for every row it read: rows in = rows used + each reason's rows dropped.
"""

import json
import re
import shlex
import subprocess
import sys

import pytest

from study import config
from tests.ledgers import all_ledgers

EXAMPLES = config.ROOT / "data" / "examples"
# What a finding must never say: an interval of nothing, a number that is not one.
DEGENERATE = re.compile(r"0\.0+ \(\S* ?CI 0\.0+ to 0\.0+\)|\(0\.0+ to 0\.0+\)|\bnan\b|\binf\b|\bNone\b")


def documented_runs() -> list[tuple[str, list[str]]]:
    """(map name, the arguments of its documented ``study run`` line) for each map of data/examples/."""
    runs = []
    for path in sorted(EXAMPLES.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            command = line.lstrip("# ").strip()
            if command.startswith("study run --data data/examples/"):
                runs.append((path.stem, shlex.split(command)[2:]))
                break
    return runs


def test_every_example_map_documents_a_run():
    names = [name for name, _ in documented_runs()]
    assert {"tickets_columns", "experiment_columns"} <= set(names), names


def _validate_and_run(arguments: list[str], out) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "study.cli"]
    data, columns = arguments[arguments.index("--data") + 1], arguments[arguments.index("--columns") + 1]
    validated = subprocess.run([*command, "validate", "--data", data, "--columns", columns], capture_output=True,
                               text=True, cwd=config.ROOT)
    ran = subprocess.run([*command, "run", *[a for a in arguments if a != "--out"], "--out", str(out)],
                         capture_output=True, text=True, cwd=config.ROOT)
    return validated, ran


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory) -> dict:
    """Every documented run, two at a time: a run of a few thousand rows spends much of its time starting
    processes and kernels, which a second run overlaps."""
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("examples")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_validate_and_run, arguments, folder / name) for name, arguments in documented_runs()}
        return {name: (*future.result(), folder / name) for name, future in futures.items()}


@pytest.mark.parametrize("name", [name for name, _ in documented_runs()])
def test_a_worked_example_runs_or_skips_each_analysis_with_its_reason(example_runs, name):
    validated, ran, out = example_runs[name]
    assert validated.returncode == 0, validated.stdout[-2000:] + validated.stderr
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    record = json.loads((out / "run.json").read_text())
    statuses = {run["name"]: (run["status"], run.get("reason")) for run in record["analyses"]}
    assert all(status in ("ok", "skipped") for status, _ in statuses.values()), statuses
    assert all(reason for status, reason in statuses.values() if status == "skipped"), statuses
    assert any(status == "ok" for status, _ in statuses.values()), statuses
    rows_read = int(record["facts"]["rows read"].replace(",", ""))
    for results in (out / "results").glob("*.json"):
        payload = json.loads(results.read_text())
        every_row = results.stem != "05_experiment_table"  # an experiment table's rows are not the tickets read
        for finding in payload.get("findings") or []:
            assert not DEGENERATE.search(finding["text"]), (results.name, finding["text"])
        for ledger in all_ledgers(payload.get("rows")):
            assert ledger["in"] == ledger["used"] + sum(ledger["dropped"].values()), (results.name, ledger)
            assert ledger["in"] == rows_read or not every_row, (results.name, ledger, rows_read)
