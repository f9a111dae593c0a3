"""Benchmark: `study run` on the embedded sample against its floor, and on simulated data (time, peak memory).

The floor is what running the sample's notebooks would cost if each did nothing: the number of notebooks
the run executes, times the wall time of the papermill command running an empty notebook with a fresh
``python3`` kernel (its start and imports included, as the issue measured it; median of three, measured in
this invocation after the study runs), divided by the notebooks
the run executes at once (its ``--jobs``; the number of cores by default). Target: the sample run's median
at most 2x the floor (exit 1 when missed). The sample runs without PDF printing (``--pdf no``): the floor
has no browser in it.

CPU seconds (user and system, the whole process tree) are printed beside: on a machine shared with other
work they move far less than wall time, and the floor's CPU (the same notebooks' empty runs) is their
counterpart. Memory comes from one more run of each case (sampling it slows a run: :func:`timed_run`): the
peak, sampled every 0.2 s, over the whole process tree (runner, workers, kernel pool,
kernels) of the summed resident memory (RSS, counting pages shared between processes once per process)
and of the summed proportional set size (PSS: a shared page split between its sharers, so the forked
kernels' common imports count once). Usage:

    .venv/bin/python benchmarks/run_study.py                      # sample vs floor, 3 repeats
    .venv/bin/python benchmarks/run_study.py --plain-too          # and the sample with plain kernels, alternating
    .venv/bin/python benchmarks/run_study.py --rows 1000000 --rows 10000000 --repeats 1 --no-sample
    .venv/bin/python benchmarks/run_study.py --data tickets.parquet --repeats 1 --no-sample
    .venv/bin/python benchmarks/run_study.py --cost-curve --keep /tmp/sims --no-sample   # 1M, 3M, 10M, 30M

Simulated files are written once into ``--keep DIR`` (reused when present; a temporary folder otherwise):
simulating 10M tickets takes minutes. Above a million tickets they are written in blocks
(``study.data.simulate_blocks``), so simulating 30M takes about as much memory as 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from study import config

TARGET_RATIO = 2.0
COST_CURVE = (1_000_000, 3_000_000, 10_000_000, 30_000_000)


def tree_memory(process: psutil.Process, proportional: bool) -> int:
    """Summed RSS (or PSS) bytes of a process and all its descendants."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_full_info().pss if proportional else member.memory_info().rss
        except psutil.Error:  # a kernel that ended between listing and reading
            continue
    return total


def timed_run(data: Path, out: Path, plain: bool = False, memory: bool = False) -> dict:
    """One `study run`: seconds, peak tree RSS and PSS (MiB; ``memory`` only), notebooks executed and at once,
    per-notebook lines.

    Reading every process's PSS five times a second walks their page tables: it took 3.8 s of a 23.6 s sample
    run (16%, alternating, same sitting). Times therefore come from runs without the sampler, memory from runs
    with it."""
    env = {**os.environ, **({"STUDY_KERNEL_POOL": "0"} if plain else {})}
    cpu = _children_cpu()
    _adopt_orphans(True)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "study.cli", "run", "--data", str(data), "--out", str(out),
                              "--pdf", "no"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peaks = {"rss": 0, "pss": 0}
    done = threading.Event()

    def sample() -> None:
        process = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peaks["rss"] = max(peaks["rss"], tree_memory(process, False))
                peaks["pss"] = max(peaks["pss"], tree_memory(process, True))
            except psutil.Error:
                break
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    output, _ = child.communicate()
    done.set()
    if memory:
        sampler.join()
    seconds = time.perf_counter() - started
    _reap_orphans()
    _adopt_orphans(False)
    cpu = _children_cpu() - cpu
    if child.returncode != 0:
        raise SystemExit(f"study run failed ({child.returncode}):\n{output}")
    facts = json.loads((out / "run.json").read_text(encoding="utf-8"))["facts"]
    executed = int(re.search(r"study: (\d+) of \d+ analyses", output).group(1))
    notebooks = ", ".join(f"{name[:2]} {secs} s" for name, secs in re.findall(r"\] (\S+): ok \(([\d.]+) s\)", output))
    return {"seconds": seconds, "cpu": cpu, "rss": peaks["rss"] / 2**20, "pss": peaks["pss"] / 2**20, "executed": executed,
            "at_once": int(facts["notebooks at once"]), "notebooks": notebooks}


def _adopt_orphans(adopt: bool) -> None:
    """Become (or stop being) the parent of the run's processes that outlive their own (Linux's child subreaper):
    multiprocessing's servers end just after the runner, with nobody left to wait for them, and an ended process
    that nobody waits for adds its CPU to nobody's. :func:`_reap_orphans` waits for them. Only around a study run:
    a plain kernel whose papermill has ended watches for its parent to become init, which a subreaper prevents."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, int(adopt), 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans() -> None:
    """Wait for every adopted process of the last run (they end within moments of the runner)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's ended descendants, each counted when its parent waited for it
    (orphans adopted by :func:`_adopt_orphans`: when this process did)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def empty_notebook_run(folder: Path) -> tuple[float, float]:
    """Wall and CPU seconds (papermill's side and the kernel's) of a papermill run of an empty notebook with a
    fresh python3 kernel."""
    import nbformat
    import papermill

    empty = folder / "empty.ipynb"
    if not empty.is_file():
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, empty)
    cpu = _children_cpu() + _own_cpu()
    started = time.perf_counter()
    papermill.execute_notebook(str(empty), str(folder / "empty.out.ipynb"), cwd=str(config.NOTEBOOKS),
                               progress_bar=False)
    return time.perf_counter() - started, _children_cpu() + _own_cpu() - cpu


def empty_notebook_cli_run(folder: Path) -> float:
    """Wall seconds of the same run through the papermill command (its Python start and imports included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "papermill", str(folder / "empty.ipynb"), str(folder / "empty.cli.ipynb"),
                    "--cwd", str(config.NOTEBOOKS), "--no-progress-bar"], check=True, capture_output=True)
    return time.perf_counter() - started


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def sample_against_floor(repeats: int, folder: Path, plain_too: bool) -> bool:
    """Sample runs alternating with empty-notebook runs; print both and their ratio; True when on target."""
    empties, runs, plain_runs = [], [], []
    loads = [load()]
    for repeat in range(repeats):
        empties += [empty_notebook_run(folder) for _ in range(2)]
        runs.append(timed_run(config.SAMPLE_DATA, folder / f"sample_{repeat}"))
        if plain_too:
            plain_runs.append(timed_run(config.SAMPLE_DATA, folder / f"plain_{repeat}", plain=True))
        loads.append(load())
    memory = {"": timed_run(config.SAMPLE_DATA, folder / "sample_memory", memory=True)}
    if plain_too:
        memory["plain"] = timed_run(config.SAMPLE_DATA, folder / "plain_memory", plain=True, memory=True)
    empties.append(empty_notebook_run(folder))
    commands = [empty_notebook_cli_run(folder) for _ in range(3)]
    executed, at_once = runs[-1]["executed"], runs[-1]["at_once"]
    empty = statistics.median(wall for wall, _ in empties)
    empty_cpu = statistics.median(cpu for _, cpu in empties)
    strict = executed * empty / at_once
    # The floor: the papermill command's run of an empty notebook (its start and imports included).
    floor = executed * statistics.median(commands) / at_once
    run = statistics.median(r["seconds"] for r in runs)
    ratio = run / floor
    print(f"empty-notebook papermill run (fresh python3 kernel): median {empty:.2f} s "
          f"(min {min(w for w, _ in empties):.2f}, max {max(w for w, _ in empties):.2f}, {len(empties)} runs), "
          f"CPU {empty_cpu:.2f} s")
    print(f"floor: {executed} notebooks x {statistics.median(commands):.2f} s (the papermill command on an empty "
          f"notebook, its start and imports included) / {at_once} at once = {floor:.2f} s; in-process papermill "
          f"only: {empty:.2f} s a notebook, a stricter floor of {strict:.2f} s")
    for label, measured, sampled in (("", runs, memory[""]),
                                     ("with plain kernels (STUDY_KERNEL_POOL=0), alternating", plain_runs, memory.get("plain"))):
        if not measured:
            continue
        wall = statistics.median(r["seconds"] for r in measured)
        cpu = statistics.median(r["cpu"] for r in measured)
        print(f"study run{', ' + label if label else ''}, embedded sample (40,000 tickets, {executed} notebooks, --pdf no): "
              f"median {wall:.1f} s (min {min(r['seconds'] for r in measured):.1f}, "
              f"max {max(r['seconds'] for r in measured):.1f}, {repeats} runs), ratio to the floor {wall / floor:.2f} "
              f"(to the stricter one {wall / strict:.2f}); "
              f"CPU {cpu:.1f} s, against the floor's {executed * empty_cpu:.1f} s: {cpu / (executed * empty_cpu):.2f}; "
              f"peak RSS {sampled['rss']:,.0f} MiB, PSS {sampled['pss']:,.0f} MiB (one more run, sampled); "
              f"last run's notebooks: {measured[-1]['notebooks']}")
    print(f"sample run / floor = {ratio:.2f} (target <= {TARGET_RATIO}); machine {'; '.join(loads)}", flush=True)
    return ratio <= TARGET_RATIO


def simulated(rows: int, folder: Path) -> Path:
    """The simulated ticket file of ``rows`` tickets in ``folder``, written when absent."""
    from study.data.simulate_blocks import write_simulation

    path = folder / f"sim_{rows}" / "tickets.parquet"
    if not path.is_file():
        started = time.perf_counter()
        write_simulation(path, rows=rows, seed=1)  # in blocks of a million tickets: bounded memory at 30M
        print(f"simulate {rows:,} tickets: {time.perf_counter() - started:.1f} s, peak RSS of this process "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, action="append", default=[], help="also run on N simulated tickets")
    parser.add_argument("--data", type=Path, action="append", default=[], help="also run on this ticket file")
    parser.add_argument("--cost-curve", action="store_true",
                        help=f"also run on {', '.join(f'{n:,}' for n in COST_CURVE)} simulated tickets")
    parser.add_argument("--keep", type=Path, help="folder for the simulated files (default: a temporary one)")
    parser.add_argument("--no-sample", action="store_true", help="skip the embedded sample and its floor")
    parser.add_argument("--plain-too", action="store_true", help="also run the sample with plain kernels")
    args = parser.parse_args()

    on_target = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if not args.no_sample:
            on_target = sample_against_floor(args.repeats, Path(tmp), args.plain_too)
        cases = [(f"file {path.name}", path) for path in args.data]
        sizes = list(dict.fromkeys([*args.rows, *(COST_CURVE if args.cost_curve else ())]))
        cases += [(f"simulated {rows:,} tickets", simulated(rows, folder)) for rows in sizes]
        for label, data in cases:
            runs = [timed_run(data, Path(tmp) / f"out_{repeat}") for repeat in range(args.repeats)]
            sampled = timed_run(data, Path(tmp) / "out_memory", memory=True)
            times = [r["seconds"] for r in runs]
            print(f"study run, {label}: median {statistics.median(times):.1f} s "
                  f"(min {min(times):.1f}, max {max(times):.1f}, {len(runs)} runs); peak RSS of the process tree "
                  f"{sampled['rss']:,.0f} MiB, PSS {sampled['pss']:,.0f} MiB (one more run, sampled: "
                  f"{sampled['seconds']:.1f} s); {load()}; "
                  f"last run's notebooks: {runs[-1]['notebooks']}", flush=True)
    if not on_target:
        raise SystemExit(f"the sample run takes more than {TARGET_RATIO}x its floor")


if __name__ == "__main__":
    main()
