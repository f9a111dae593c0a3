"""Benchmark: wall time and peak memory of `study run` on the embedded sample and on simulated data.

Prints one line per run, with each notebook's own time. Memory is the peak of the summed resident
memory of the whole process tree (the runner, its workers and their kernels), sampled every 0.2 s.
Usage:

    .venv/bin/python benchmarks/run_study.py                       # embedded sample, 3 repeats
    .venv/bin/python benchmarks/run_study.py --rows 1000000 --rows 10000000 --repeats 1
    .venv/bin/python benchmarks/run_study.py --data tickets.parquet --repeats 1   # an existing file

Simulating 10M tickets takes about 5 minutes and 10 GB of memory (once; pass ``--keep DIR`` to
keep the files for another run).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from study import config
from study.data import simulate


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a kernel that ended between listing and reading
            continue
    return total


def timed_run(data: Path, out: Path) -> tuple[float, float, str]:
    """Seconds, peak tree RSS (MiB) and the per-notebook progress lines of one `study run`."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "study.cli", "run", "--data", str(data), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        process = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peak = max(peak, tree_rss(process))
            except psutil.Error:
                break
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"study run failed ({child.returncode}):\n{output}")
    notebooks = ", ".join(f"{name[:2]} {secs} s" for name, secs in re.findall(r"\] (\S+): ok \(([\d.]+) s\)", output))
    return seconds, peak / 2**20, notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, action="append", default=[], help="also run on N simulated tickets")
    parser.add_argument("--data", type=Path, action="append", default=[], help="also run on this ticket file")
    parser.add_argument("--keep", type=Path, help="folder for the simulated files (default: a temporary one)")
    parser.add_argument("--no-sample", action="store_true", help="skip the embedded sample")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        cases = [] if args.no_sample else [("embedded sample (40,000 tickets)", config.SAMPLE_DATA)]
        cases += [(f"file {path.name}", path) for path in args.data]
        for rows in args.rows:
            path = folder / f"sim_{rows}" / "tickets.parquet"
            if not path.is_file():
                started = time.perf_counter()
                simulate.write(simulate.simulate(rows=rows, seed=1), path)
                print(f"simulate {rows:,} tickets: {time.perf_counter() - started:.1f} s", flush=True)
            cases.append((f"simulated {rows:,} tickets", path))
        for label, data in cases:
            times, peaks = [], []
            for repeat in range(args.repeats):
                seconds, peak, notebooks = timed_run(data, Path(tmp) / f"out_{repeat}")
                times.append(seconds)
                peaks.append(peak)
            print(f"study run, {label}: median {statistics.median(times):.1f} s "
                  f"(min {min(times):.1f}, max {max(times):.1f}, {args.repeats} runs); "
                  f"peak RSS of the process tree {max(peaks):,.0f} MiB; last run's notebooks: {notebooks}", flush=True)


if __name__ == "__main__":
    main()
