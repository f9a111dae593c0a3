"""Benchmark: wall time and peak memory of `study run` on the embedded sample and on simulated data.

Prints one line per case. Usage:

    .venv/bin/python benchmarks/run_study.py                 # embedded sample, 3 repeats
    .venv/bin/python benchmarks/run_study.py --rows 200000   # also a simulated data set of that size
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from study import config, simulate


def timed_run(data: Path, out: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB, largest single process among the run's children) of one `study run`."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "study.cli", "run", "--data", str(data), "--out", str(out)],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, action="append", default=[], help="also run on N simulated tickets")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cases = [("embedded sample (40,000 tickets)", config.SAMPLE_DATA)]
        for rows in args.rows:
            path = Path(tmp) / f"sim_{rows}" / "tickets.parquet"
            started = time.perf_counter()
            simulate.write(simulate.simulate(rows=rows, seed=1), path)
            print(f"simulate {rows:,} tickets: {time.perf_counter() - started:.1f} s")
            cases.append((f"simulated {rows:,} tickets", path))
        for label, data in cases:
            times, peak = [], 0.0
            for repeat in range(args.repeats):
                seconds, peak = timed_run(data, Path(tmp) / f"out_{repeat}")
                times.append(seconds)
            print(f"study run, {label}: median {statistics.median(times):.1f} s "
                  f"(min {min(times):.1f}, max {max(times):.1f}, {args.repeats} runs); peak RSS of one process {peak:.0f} MiB")


if __name__ == "__main__":
    main()
