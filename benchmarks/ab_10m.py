"""Benchmark: the A/B engine against tea-tasting on one 10-million-unit experiment stored as Parquet.

Writes a seeded unit-level experiment (one row per customer: arm, tier, pre-period spend, spend,
orders, purchase flag), then times, on that same file and alternately, each side in a fresh process
of its own (peak memory = that process's getrusage):

- the study: unit checks (one row per customer, one arm), sufficient statistics of the whole
  experiment and by tier, every statistic (CUPED mean, proportion, ratio, mean; Holm/BH; sample
  ratio; power);
- tea-tasting (``benchmarks/peer/tea_tasting_10m.py``): the same metrics and sample ratio, whole
  experiment and each tier, through Ibis on DuckDB.

Imports are outside the timings on both sides. tea-tasting is not a dependency of the project: it
is installed into a virtual environment of its own under ``~/.cache/study-bench/tea-tasting`` (made
on the first run, reused after). Prints each run, the medians and the ratios study / tea-tasting,
checks that both find the same CUPED effect, and exits 1 with the reason when a ratio exceeds 1.0.

    python benchmarks/ab_10m.py [--rows 10000000] [--repeats 3] [--keep FOLDER]

``--keep`` writes the file to FOLDER and leaves it there (and reuses it when it is already there).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1_000_000
PEER = Path(__file__).parent / "peer" / "tea_tasting_10m.py"
PEER_ENV = Path.home() / ".cache" / "study-bench" / "tea-tasting"
# tea-tasting 1.14 (the release for Python 3.11) with Ibis 12 needs an older sqlglot.
PEER_PACKAGES = ["tea-tasting", "ibis-framework[duckdb]", "sqlglot<30"]


def write_experiment(path: Path, rows: int, seed: int = 2026) -> None:
    """Seeded unit-level experiment, written a million rows at a time so writing stays small in memory."""
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, pa.schema([
        ("customer_id", pa.int64()), ("variant", pa.string()), ("tier", pa.string()), ("pre_spend", pa.float64()),
        ("next_spend", pa.float64()), ("orders", pa.int64()), ("repeat_purchase", pa.bool_()),
    ])) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            treated = rng.random(n) < 0.5
            tier = rng.choice(np.array(["bronze", "silver", "gold"]), n, p=[0.6, 0.3, 0.1])
            pre_spend = rng.lognormal(3.0, 0.8, n)
            orders = 1 + rng.poisson(1.5, n)
            spend = (0.7 * pre_spend + orders * rng.lognormal(2.0, 1.0, n)) * np.where(treated, 1.01, 1.0)
            bought = rng.random(n) < np.where(treated, 0.303, 0.30)
            writer.write_table(pa.table({
                "customer_id": np.arange(start, start + n, dtype=np.int64),
                "variant": np.where(treated, "treatment", "control"), "tier": tier, "pre_spend": pre_spend,
                "next_spend": spend, "orders": orders, "repeat_purchase": bought,
            }))


def analyse(path: Path) -> None:
    """The study's side, run in its own process; prints one JSON line."""
    from study.ab import abtest, aggregate, design
    from study.ab.sufficient import Metric

    metrics = [
        Metric("next_spend", "next_spend", covariate="pre_spend"),
        Metric("repeat_purchase", "repeat_purchase", "proportion"),
        Metric("spend_per_order", "next_spend", "ratio", denominator="orders"),
        Metric("pre_spend", "pre_spend"),
    ]
    started = time.perf_counter()
    checks, (whole, by_tier) = aggregate.analyse(path, metrics, "customer_id", segmentations=[(), ("tier",)])
    scanned = time.perf_counter()
    effects = abtest.adjust_p_values(abtest.compare_metrics(whole) + abtest.compare_metrics(by_tier))
    design.srm_from_counts(whole.unit_counts())
    abtest.power_table(whole)
    finished = time.perf_counter()
    spend = next(e for e in effects if e.metric == "next_spend" and not e.segment)
    print(json.dumps({
        "seconds": finished - started, "scans": scanned - started, "statistics": finished - scanned,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "clean": checks.clean, "units": checks.units, "effect": spend.estimate,
        "ci": [spend.ci_low, spend.ci_high], "segments": len(by_tier.segment_keys()),
    }))


def peer_python() -> Path:
    """The throwaway environment's Python, made on the first run; exits 1 when it cannot be made."""
    python = PEER_ENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import tea_tasting, ibis"], capture_output=True, check=False).returncode == 0:
        return python
    print(f"installing tea-tasting into {PEER_ENV} (a throwaway environment, not a project dependency)...", flush=True)
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_ENV)], capture_output=True, text=True,
                          check=False)
    installed = made.returncode == 0 and subprocess.run(
        [python, "-m", "pip", "install", "-q", *PEER_PACKAGES], capture_output=True, text=True, check=False)
    if not installed or installed.returncode != 0:
        reason = (made.stderr if made.returncode else installed.stderr).strip().splitlines()[-1:] or ["unknown"]
        sys.exit(f"FAILED: tea-tasting could not be installed into {PEER_ENV}: {reason[0]}")
    return python


def run(command: list) -> dict:
    """One side in a fresh process: its last output line is a JSON record."""
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                          check=False)
    if done.returncode != 0:
        sys.exit(f"FAILED: {' '.join(str(c) for c in command[:2])} exited {done.returncode}: "
                 f"{(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(path: Path, repeats: int, peer: Path) -> list[str]:
    """Both sides ``repeats`` times, alternating which goes first; prints them; returns the targets missed."""
    study_command = [sys.executable, __file__, "--analyse", str(path)]
    peer_command = [peer, PEER, str(path)]
    study_runs, peer_runs = [], []
    for i in range(repeats):
        pair = [("study", study_command, study_runs), ("tea-tasting", peer_command, peer_runs)]
        for name, command, runs in pair if i % 2 == 0 else pair[::-1]:
            runs.append(run(command))
            print(f"  run {i + 1} {name:12s} {runs[-1]['seconds']:6.2f} s  peak {runs[-1]['peak_mib']:6.0f} MiB", flush=True)
    median = {side: {k: statistics.median(r[k] for r in runs) for k in ("seconds", "peak_mib")}
              for side, runs in (("study", study_runs), ("tea-tasting", peer_runs))}
    time_ratio = median["study"]["seconds"] / median["tea-tasting"]["seconds"]
    memory_ratio = median["study"]["peak_mib"] / median["tea-tasting"]["peak_mib"]
    print(f"\n{'median of ' + str(repeats):22s} {'time':>9s} {'peak memory':>13s}")
    for side in ("study", "tea-tasting"):
        print(f"{side:22s} {median[side]['seconds']:7.2f} s {median[side]['peak_mib']:9.0f} MiB")
    print(f"{'ratio study / peer':22s} {time_ratio:9.2f} {memory_ratio:13.2f}")
    study, tea = study_runs[-1], peer_runs[-1]
    print(f"study: {study['units']:,} units checked (clean: {study['clean']}); scans {study['scans']:.2f} s, "
          f"statistics {study['statistics']:.2f} s; tiers: {study['segments']}")
    print(f"CUPED effect on spend: study {study['effect']:+.6f}, tea-tasting {tea['effect']:+.6f}")
    missed = []
    if time_ratio > 1.0:
        missed.append(f"the study takes {time_ratio:.2f} times tea-tasting's time")
    if memory_ratio > 1.0:
        missed.append(f"the study's peak memory is {memory_ratio:.2f} times tea-tasting's")
    if not np.isclose(study["effect"], tea["effect"], rtol=1e-6) or not study["clean"]:
        missed.append("the two sides disagree on the CUPED effect, or the clean file was not found clean")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to write the file to, leave it in, and reuse it from")
    parser.add_argument("--analyse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analyse:
        analyse(args.analyse)
        return
    peer = peer_python()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "experiment.parquet"
        if not (path.exists() and pq.ParquetFile(path).metadata.num_rows == args.rows):
            started = time.perf_counter()
            write_experiment(path, args.rows)
            print(f"wrote {args.rows:,} units ({path.stat().st_size / 2**20:,.0f} MiB Parquet) "
                  f"in {time.perf_counter() - started:.1f} s")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; each side in a fresh process:")
        missed = compare(path, args.repeats, peer)
        print(f"load average {os.getloadavg()[0]:.2f}")
    if missed:
        sys.exit("FAILED: " + "; ".join(missed))
    print("OK: the study is at or below tea-tasting's time and peak memory")


if __name__ == "__main__":
    main()
