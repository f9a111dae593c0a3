"""Benchmark: the SLA experiment's per-customer table on a large simulated ticket file.

Simulates N tickets (default 2M), loads them as the study does, keeps the experiment's rows and
times :func:`study.ab.customers.customer_table` (best of several runs, after one warm-up).

    python benchmarks/customer_table.py [--rows 2000000] [--repeat 5] [--data FILE]

``--data`` reads an existing ticket file instead of simulating one (simulating 2M tickets takes a
minute or two; pass the same file to compare two versions of the code).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()

    from study.ab.customers import customer_table
    from study.ab.experiments import experiment_rows
    from study.data import simulate
    from study.data.dataset import load_tickets

    with tempfile.TemporaryDirectory() as folder:
        path = args.data
        if path is None:
            path, _ = simulate.write(simulate.simulate(rows=args.rows, seed=1), Path(folder) / "tickets.parquet")
        rows = experiment_rows(load_tickets(path).tickets).rows
    customer_table(rows)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        table = customer_table(rows)
        times.append(time.perf_counter() - start)
    print(f"{len(rows):,} tickets, {len(table):,} customers: customer_table best {min(times):.3f} s, "
          f"median {sorted(times)[len(times) // 2]:.3f} s over {args.repeat} runs")


if __name__ == "__main__":
    main()
