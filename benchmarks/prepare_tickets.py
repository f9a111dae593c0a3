"""Benchmark: `study run`'s preparation of a ticket file (validation and the typed copy), streamed vs pandas.

Runs :func:`study.report.prepare.prepare_tickets` on the same file twice in separate processes, side by
side: once as `study run` does (a typed Parquet file validated by one DuckDB scan and copied a row group
at a time, :mod:`study.data.streamed`) and once the pandas way (the whole table read, converted and
written). Prints each one's time and peak memory, checks the two copies hold the same values, and asserts
the streamed one is not slower and stays under the memory target. Usage:

    .venv/bin/python benchmarks/prepare_tickets.py --data /path/to/sim_10000000/tickets.parquet
    .venv/bin/python benchmarks/prepare_tickets.py --rows 3000000      # simulates the file first (temporary)

Exit status 1, with the reason, when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from study.data import streamed
from study.report import prepare
data, staging, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
streamed.STREAM_MIN_ROWS = 0
if mode == "pandas":
    streamed.column_kinds = lambda path: None
started = time.perf_counter()
facts = prepare.prepare_tickets(data, None, staging, ["csat", "response_hours"])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "path": str(facts.path), "present": facts.present, "period": facts.period}))
"""


def run(data: Path, staging: Path, mode: str) -> dict:
    """Seconds, peak resident memory and facts of one preparation in a fresh process."""
    staging.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", CHILD, str(data), str(staging), mode], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"preparation ({mode}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a ticket Parquet file")
    parser.add_argument("--rows", type=int, default=3_000_000,
                        help="simulate this many tickets when --data is not given (streaming starts at 2M)")
    parser.add_argument("--max-memory-mib", type=float, default=4096, help="target for the streamed preparation's peak")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from study.data import simulate

            data = Path(tmp) / "tickets.parquet"
            simulate.write(simulate.simulate(rows=args.rows, seed=1), data)
        streamed_run = run(data, Path(tmp) / "streamed", "streamed")
        pandas_run = run(data, Path(tmp) / "pandas", "pandas")
        same = pq.read_table(streamed_run["path"]).equals(pq.read_table(pandas_run["path"])) and \
            streamed_run["present"] == pandas_run["present"] and streamed_run["period"] == pandas_run["period"]
    rows = pq.ParquetFile(data).metadata.num_rows
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"preparation of {rows:,} tickets (load average {load}):")
    for label, figures in (("streamed (DuckDB scan + Arrow row groups)", streamed_run), ("pandas (whole table)", pandas_run)):
        print(f"  {label:44s} {figures['seconds']:6.1f} s   peak {figures['peak_mib']:7,.0f} MiB")
    ratio = streamed_run["seconds"] / pandas_run["seconds"]
    print(f"  time ratio streamed/pandas {ratio:.2f}; memory ratio {streamed_run['peak_mib'] / pandas_run['peak_mib']:.2f}; "
          f"same copy: {same}")
    missed = []
    if not same:
        missed.append("the two copies differ")
    if ratio > 1.0:
        missed.append(f"streamed is slower than pandas ({ratio:.2f}x)")
    if streamed_run["peak_mib"] > args.max_memory_mib:
        missed.append(f"streamed peak {streamed_run['peak_mib']:,.0f} MiB above {args.max_memory_mib:,.0f} MiB")
    if missed:
        raise SystemExit("target missed: " + "; ".join(missed))


if __name__ == "__main__":
    main()
