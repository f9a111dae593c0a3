"""Benchmark: a team's own export at scale, from the file to the driver analysis.

Simulates an orders export of N rows (default 1M, study.data.orders), writes it as CSV, then times
each step a rerun on own data takes: reading and applying the worked example's column map
(data/examples/orders_columns.yml: two derived columns from timestamps, a filter, renames), validating,
and the driver analysis (naive and adjusted least squares with clustered standard errors, the ordered
logit check, the spline, the sensitivity analysis) on every kept row. It also checks the adjusted
slope against the simulation's truth, within 4 standard errors.

    python benchmarks/own_data.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from study import config
    from study.data import features, orders, schema
    from study.data.dataset import read_export
    from study.drivers import analyse

    columns = config.DATA / "examples" / "orders_columns.yml"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        drawn = orders.simulate(args.rows, seed=5)
        path = Path(folder) / "orders.csv"
        path.write_text(orders.export_csv(drawn), encoding="utf-8")
        print(f"simulate and write {args.rows:,} orders: {time.perf_counter() - started:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB of CSV)")

        started = time.perf_counter()
        export = read_export(path, columns=columns)
        mapped = time.perf_counter() - started
        started = time.perf_counter()
        tickets, _ = schema.conform(export.frame, source=export.source.name, copy=False, mapped_from=export.mapped_from)
        tickets = features.derive(tickets, copy=False)
        validated = time.perf_counter() - started
        excluded = sum(export.set_aside.values())
        print(f"read and map (derive, filter, rename): {mapped:.1f} s; validate and derive: {validated:.1f} s; "
              f"{len(tickets):,} rows kept, {excluded:,} set aside by the filter")

        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = analyse(tickets, "csat", "delivery_delay_days", ["category", "state"], "customer_id",
                             set_aside=export.set_aside)
        print(f"driver analysis on {result.rows['used']:,} rows: {time.perf_counter() - started:.1f} s")

    truth = orders.truth_values("delivery_delay_days")["driver_adjusted"]
    adjusted = result.adjusted
    z = (adjusted.value - truth) / adjusted.se
    print(f"adjusted slope {adjusted.value:+.5f} (SE {adjusted.se:.5f}) against the truth {truth:+.5f}: z = {z:+.2f}")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    assert result.rows["in"] == args.rows, result.rows
    assert abs(z) < 4, f"the adjusted slope misses the truth by {z:+.2f} standard errors"


if __name__ == "__main__":
    main()
