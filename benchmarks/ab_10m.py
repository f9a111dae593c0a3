"""Benchmark: the A/B engine on a 10-million-unit experiment stored as Parquet.

Writes a seeded unit-level experiment (one row per customer: arm, tier, pre-period spend, spend,
orders, purchase flag) to a temporary folder, then, in a fresh process so that the peak memory is
the analysis's own, checks the units, aggregates in DuckDB (whole experiment, and by tier) and
computes every statistic. Prints wall time per step and peak memory (getrusage).

    python benchmarks/ab_10m.py [--rows 10000000] [--keep FOLDER]

``--keep`` writes the file to FOLDER and leaves it there (e.g. to time a peer engine on it).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1_000_000


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
    """Every step a report needs, timed; run in its own process."""
    from study.ab import abtest, aggregate, design, unit_checks
    from study.ab.sufficient import Metric

    metrics = [
        Metric("next_spend", "next_spend", covariate="pre_spend"),
        Metric("repeat_purchase", "repeat_purchase", "proportion"),
        Metric("spend_per_order", "next_spend", "ratio", denominator="orders"),
        Metric("pre_spend", "pre_spend"),
    ]
    steps = []

    def step(name, function):
        started = time.perf_counter()
        value = function()
        steps.append((name, time.perf_counter() - started))
        return value

    checks = step("unit checks (duplicates, several arms)", lambda: unit_checks.check_units(path, "customer_id"))
    whole = step("aggregate in DuckDB, whole experiment", lambda: aggregate.aggregate_duckdb(path, metrics))
    by_tier = step("aggregate in DuckDB, by tier", lambda: aggregate.aggregate_duckdb(path, metrics, segments=["tier"]))
    effects = step("statistics (effects, CUPED, Holm/BH, SRM, power)", lambda: (
        abtest.adjust_p_values(abtest.compare_metrics(whole) + abtest.compare_metrics(by_tier)),
        design.srm_from_counts(whole.unit_counts()), abtest.power_table(whole)))[0]
    total = sum(seconds for _, seconds in steps)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"units checked: {checks.rows:,} rows, {checks.units:,} units, clean: {checks.clean}")
    for name, seconds in steps:
        print(f"  {name:52s} {seconds:7.2f} s")
    print(f"  {'total':52s} {total:7.2f} s; peak memory {peak_mib:,.0f} MiB")
    spend = next(e for e in effects if e.metric == "next_spend" and not e.segment)
    print(f"spend: CUPED effect {spend.estimate:+.4f} (95% CI {spend.ci_low:+.4f} to {spend.ci_high:+.4f}), "
          f"lift {spend.lift:+.3%}, variance reduction {spend.extra['variance_reduction']:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="folder to write the file to and leave it in")
    parser.add_argument("--analyse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analyse:
        analyse(args.analyse)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "experiment.parquet"
        started = time.perf_counter()
        write_experiment(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        print(f"wrote {args.rows:,} units ({size_mib:,.0f} MiB Parquet) in {time.perf_counter() - started:.1f} s")
        subprocess.run([sys.executable, __file__, "--analyse", str(path)], check=True)


if __name__ == "__main__":
    main()
