"""Benchmark of the machine, not of the study: what touching memory costs, fresh and reused.

A process's first write to a page of memory makes the operating system give it one; on a virtual machine
that hands freed memory back to its host, the host must first give the page back, and that can cost far more
than the write. Every figure of the study at scale pays it for its peak memory (the 10M run touches about
7 GB), and every new kernel for what it allocates, so the figures of two machines, or of one machine an hour
apart, differ by it. Run this beside a benchmark to see which machine the figures came from. Usage:

    .venv/bin/python benchmarks/fresh_memory.py [--gib 1] [--repeats 3]

Each repeat runs in a new process, one after the other: it writes ``--gib`` GiB of new memory (first touch),
frees it, then writes the same amount again (memory the process reuses).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PROBE = """
import sys, time
import numpy as np
size = int(float(sys.argv[1]) * 2**30) // 8
started = time.perf_counter(); block = np.ones(size); first = time.perf_counter() - started
del block
started = time.perf_counter(); block = np.ones(size); again = time.perf_counter() - started
print(first, again)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    firsts, agains = [], []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", PROBE, str(args.gib)], check=True, capture_output=True, text=True)
        first, again = (float(x) for x in out.stdout.split())
        firsts.append(first / args.gib)
        agains.append(again / args.gib)
    # Each process in turn: the first writes memory the machine has not used for a while, the next ones mostly
    # the pages their predecessor freed a moment before, so the first figure is the one a cold run pays.
    print("writing new memory, each process in turn: " + ", ".join(f"{f:.2f}" for f in firsts) + " s a GiB; "
          f"memory the process freed and writes again: median {statistics.median(agains):.2f} s a GiB; "
          f"{args.repeats} processes of {args.gib:g} GiB")

if __name__ == "__main__":
    main()
