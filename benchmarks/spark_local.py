"""Benchmark: the study's aggregations on local Spark beside DuckDB, on the same files.

The figures the 1-billion-ticket estimate in benchmarks/README.md rests on: how long a Spark
session takes to start, and each aggregation (the validation's counts, the response-time quantiles from
histograms, the overview of the tickets, the A/B unit checks, the A/B sufficient statistics whole and by
tier) on DuckDB and on Spark ``local[2]``, the first
(cold: Spark compiles its code then) and the median of the repeats after it. Both engines must
give the same numbers (1e-9 relative): the benchmark fails, naming the step, when they do not or
when a step cannot run on Spark.

    python benchmarks/spark_local.py [--rows 1000000] [--repeat 3] [--master local[2]] [--study-run]

``--study-run`` also runs ``study run --only 01`` on the tickets with each engine and requires the
same results JSON, byte for byte.

Files are written to a temporary folder and removed at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ab_10m import write_experiment  # the A/B benchmark's experiment, at this size


def _timed(step, repeat: int) -> tuple[object, float, float]:
    """``step()``'s result, its first time and the median of ``repeat`` more (seconds)."""
    started = time.perf_counter()
    result = step()
    first = time.perf_counter() - started
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return result, first, statistics.median(times) if times else first


def _same(left, right, path: str = "") -> list[str]:
    """Where two results (numbers, tuples, dicts, dataclasses, frames) differ beyond 1e-9 relative."""
    import dataclasses

    import pandas as pd

    if dataclasses.is_dataclass(left):
        return _same(dataclasses.asdict(left), dataclasses.asdict(right), path)
    if isinstance(left, (pd.DataFrame, pd.Series)):
        try:
            (pd.testing.assert_frame_equal if isinstance(left, pd.DataFrame) else pd.testing.assert_series_equal)(
                left, right, rtol=1e-9, check_index_type=False)
            return []
        except AssertionError as error:
            return [f"{path}: {str(error).splitlines()[0]}"]
    if isinstance(left, dict):
        keys = set(left) | set(right)
        return [d for k in sorted(keys, key=str) for d in _same(left.get(k), right.get(k), f"{path}.{k}")]
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in _same(a, b, f"{path}[{i}]")]
    if isinstance(left, float) and isinstance(right, float) and (
            (math.isnan(left) and math.isnan(right)) or abs(left - right) <= 1e-9 * max(abs(left), abs(right))):
        return []
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def _scan(result) -> tuple:
    """The unit checks and each segmentation's statistics of :func:`study.ab.aggregate.analyse`, to compare."""
    checks, aggregates = result
    return checks, [(a.units, a.stats) for a in aggregates]


def _study_runs(tickets: Path, folder: Path, master: str) -> list[str]:
    """``study run --only 01`` with each engine, timed; the results JSON must be the same bytes."""
    import subprocess

    results = {}
    for engine in ("duckdb", "spark"):
        out = folder / f"run-{engine}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "study.cli", "run", "--data", str(tickets), "--only", "01",
                               "--out", str(out), "--pdf", "no", "--engine", engine, "--spark-master", master],
                              capture_output=True, text=True, check=False)
        print(f"  study run --only 01 --engine {engine:6s}         {time.perf_counter() - started:7.2f} s")
        if done.returncode != 0:
            return [f"study run --engine {engine} failed: {(done.stderr or done.stdout).strip()[-300:]}"]
        results[engine] = (out / "results" / "01_data_overview.json").read_bytes()
    return [] if results["duckdb"] == results["spark"] else ["study run: the engines' results JSON differ"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="tickets, and units of the experiment")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats after the first run of each step")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--study-run", action="store_true", help="also compare whole study runs of the engines' notebooks")
    args = parser.parse_args()

    from study.ab import aggregate, unit_checks
    from study.ab.sufficient import Metric
    from study.data import dataset, overview, simulate, streamed
    from study.engine import spark_missing
    from study.engine.quantiles import exact_quantiles

    missing = spark_missing(args.master)
    if missing:
        print(f"spark_local: Spark cannot run here: {missing}")
        return 1
    metrics = [Metric("next_spend", "next_spend", covariate="pre_spend"),
               Metric("repeat_purchase", "repeat_purchase", "proportion"),
               Metric("spend_per_order", "next_spend", "ratio", denominator="orders")]
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        tickets, _ = simulate.write(simulate.simulate(rows=args.rows, seed=2026), folder / "tickets.parquet")
        copy = dataset.write_prepared(dataset.load_tickets(tickets), folder / "copy.parquet")
        experiment = folder / "experiment.parquet"
        write_experiment(experiment, args.rows)
        print(f"spark_local: {args.rows:,} tickets and {args.rows:,} units; master {args.master}; "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        from study.engine.spark import SparkSource, spark_session

        started = time.perf_counter()
        session = spark_session(args.master)
        print(f"  Spark session start                     {time.perf_counter() - started:7.2f} s")
        tickets_data = dataset.load_tickets(copy, needed=[])
        engines = {"duckdb": (aggregate.DuckDBSource(copy), aggregate.DuckDBSource(experiment), streamed.counting_source(tickets)),
                   "spark": (SparkSource(copy, session), SparkSource(experiment, session), SparkSource(tickets, session))}
        kinds = streamed.column_kinds(tickets)
        steps = {
            "validation counts (the file as given)": lambda s: streamed.clean_counts(tickets, kinds, s[2]),
            "response-time quantiles (histograms)": lambda s: exact_quantiles(s[0], "first_response_minutes",
                                                                              overview.QUANTILES),
            "overview (tickets)": lambda s: overview.summarize(tickets_data, source=s[0]),
            "A/B unit checks": lambda s: unit_checks.check_units(s[1], unit="customer_id"),
            "A/B statistics, whole": lambda s: aggregate.aggregate_duckdb(s[1], metrics).stats,
            "A/B statistics, by tier": lambda s: aggregate.aggregate_duckdb(s[1], metrics, segments=["tier"]).stats,
            "A/B checks + whole + by tier (scan)": lambda s: _scan(aggregate.analyse(s[1], metrics, "customer_id",
                                                                               segmentations=[(), ("tier",)])),
        }
        print(f"  {'step':38s} {'DuckDB':>8s} {'Spark 1st':>10s} {'Spark':>8s} {'ratio':>6s}")
        for name, step in steps.items():
            results, times = {}, {}
            try:
                for engine, sources in engines.items():
                    results[engine], first, median = _timed(lambda step=step, sources=sources: step(sources), args.repeat)
                    times[engine] = (first, median)
            except ValueError as error:
                failures.append(f"{name}: {str(error)[:200]}")
                print(f"  {name:38s} cannot run on Spark: {str(error)[:120]}")
                continue
            print(f"  {name:38s} {times['duckdb'][1]:7.2f}s {times['spark'][0]:9.2f}s {times['spark'][1]:7.2f}s "
                  f"{times['spark'][1] / times['duckdb'][1]:6.1f}")
            differ = _same(results["duckdb"], results["spark"])
            if differ:
                failures.append(f"{name}: DuckDB and Spark differ: {'; '.join(differ[:3])}")
        session.stop()
        if args.study_run:
            failures += _study_runs(tickets, folder, args.master)
    for failure in failures:
        print(f"spark_local: FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
