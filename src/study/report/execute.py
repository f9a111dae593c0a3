"""What a worker process of ``study run`` does: execute one notebook with papermill and export it.

Kept apart from :mod:`study.report.runner` so that a worker imports only papermill, nbconvert and this:
the runner's own imports (pandas, the data checks) cost every worker seconds it has no use for.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from study.report import export, kernel_log, kernel_provisioner, lifetime
from study.report.export import export_html
from study.report.kernel_log import start_again_if_the_kernel_died

# papermill waits 60 s for a kernel by default; on a loaded 2-core machine (a test suite running
# beside two kernels) start-up has been seen to take longer, failing a notebook for no fault of its own.
KERNEL_START_SECONDS = 300
# A forked kernel has nothing left to import: it answers in a second or two even beside a loaded test suite.
# One that has not answered by then is not coming (seen once, in a test suite on a loaded machine; the
# cause is not known): the notebook runs on a plain kernel instead, which the log says, rather than failing
# five minutes later.
FORKED_START_SECONDS = 60
# The exporter's warm-up need only be done by the worker's first page, seconds later. At a lower priority it
# leaves the cores to the kernel pool's imports, which every notebook waits for at the start of a run.
SPARE_TIME = 10
# Imported by the server the workers are forked from (:func:`worker_context`).
WORKER_SERVER = "study.report.worker_server"


def worker_context() -> multiprocessing.context.BaseContext:
    """Where the run's workers start: forked from a server that has loaded :data:`WORKER_SERVER` (started by the
    first call in a process), or each spawned afresh where the platform cannot fork or the server cannot start (its
    socket lives in the temp folder, whose path may be too long for a socket's name).

    Forked workers inherit the server's environment, not the runner's: :func:`worker_start` sets the runner's.
    """
    return multiprocessing.get_context("forkserver" if _worker_server_started() else "spawn")


@functools.cache
def _worker_server_started() -> bool:
    """Start the workers' server, once a process (multiprocessing starts it again itself should it end)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload([WORKER_SERVER])  # read when it starts
    try:
        _start_resource_tracker_quietly()
        forkserver.ensure_running()
    except OSError:
        return False
    return True


def _start_resource_tracker_quietly() -> None:
    """Start multiprocessing's resource tracker (which the fork server starts otherwise) with its standard error on
    the null device, unless it runs already.

    Its only messages are warnings, when it ends, about semaphores of processes that ended without giving them back,
    which it then removes itself. With forked workers, a run interrupted while its workers are killed sometimes left
    two such lines on the terminal after ``study: interrupted`` (the semaphore named was removed already; the cause
    is multiprocessing's bookkeeping, not found).
    """
    from multiprocessing import resource_tracker

    terminal, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)  # what the tracker inherits; nothing else of this process writes in between
        resource_tracker.ensure_running()
    finally:
        os.dup2(terminal, 2)
        os.close(terminal)
        os.close(null)


def start_worker_server() -> None:
    """Start the workers' server now, its imports beside the run's checks and the kernel pool's imports, instead
    of when the first worker is asked for."""
    worker_context()


def execute_notebook(
    notebook: str, executed: str, html_path: str, parameters: dict, cwd: str, log: str, pool: tuple[str, str] = ("", "")
) -> tuple[str, str, float]:
    """Execute one notebook and export it; runs in a worker process. Returns (status, reason, seconds).

    The kernel's own stderr (start-up notices, crash messages) goes to ``log`` rather than the
    terminal, so progress lines stay readable and nothing is lost; the one start-up warning every
    kernel prints is dropped from it (:mod:`study.report.kernel_log`). The kernel comes from the run's
    kernel pool, ``pool`` being its name and why there is none (:mod:`study.report.kernel_provisioner`).
    It is killed once the last cell has run: its outputs are all in by then, and a graceful shutdown
    only adds waiting.

    Parameters
    ----------
    notebook, executed, html_path : str
        The notebook, where its executed copy and its HTML page are written.
    parameters : dict
        Its papermill parameters.
    cwd : str
        The kernel's working folder.
    log : str
        The kernel log of this analysis.
    pool : tuple of str
        The run's kernel pool: its name, and why there is none.
    """
    import papermill

    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 2)
    started = time.perf_counter()
    # The exporter's first page costs 1.8 s: paid while the kernel computes, not after it, between notebooks.
    warming = in_background(export.warm_up, niceness=SPARE_TIME)
    status, reason = "ok", ""
    try:
        run_notebook(notebook, executed, parameters, cwd, pool)
    except papermill.PapermillExecutionError as error:
        status, reason = "failed", f"{error.ename}: {error.evalue}".strip()
    except Exception as error:  # kernel died, notebook unreadable: still report, never take the run down
        status, reason = "failed", f"{type(error).__name__}: {error}"
    warming.join()  # one page at a time through the process's one exporter
    if Path(executed).is_file():
        export_html(Path(executed), Path(html_path))
    kernel_log.clean(log)
    return status, reason.splitlines()[0][:300] if reason else "", time.perf_counter() - started


def in_background(action: Callable[..., object], *args: object, niceness: int = 0) -> threading.Thread:
    """Start ``action(*args)`` in a daemon thread, for work done ahead of its use (an import, a warm-up); a failure
    is left to the later use, which reports it with its traceback. On Linux, where each thread has its own nice
    value, the thread's is raised by ``niceness`` (0: as the process's)."""

    def quietly() -> None:
        if niceness and sys.platform.startswith("linux"):
            os.nice(niceness)  # this thread's alone on Linux
        try:
            action(*args)
        except Exception:  # noqa: BLE001, S110 - raised again where the result is used
            pass

    thread = threading.Thread(target=quietly, daemon=True)
    thread.start()
    return thread


def run_notebook(notebook: str, executed: str, parameters: dict, cwd: str, pool: tuple[str, str] = ("", "")) -> None:
    """Execute ``notebook`` into ``executed`` with papermill, on a kernel of the pool ``pool`` when there is one.

    A kernel that died while starting is started again (:func:`study.report.kernel_log.start_again_if_the_kernel_died`);
    a forked kernel that does not answer within :data:`FORKED_START_SECONDS` is killed and the notebook run on
    a plain kernel, said on stderr. Nothing of the notebook has run in either case. Errors of the notebook
    itself are raised as papermill raises them.

    Parameters
    ----------
    notebook, executed : str
        The notebook and where its executed copy is written.
    parameters : dict
        Its papermill parameters.
    cwd : str
        The kernel's working folder.
    pool : tuple of str
        The run's kernel pool: its name (``""`` for none), and why there is none.
    """
    import papermill

    from study.report import notebook_engine

    def run(pool_name: str, pool_reason: str, start_seconds: int) -> None:
        start_again_if_the_kernel_died(lambda: papermill.execute_notebook(
            notebook, executed, parameters=parameters, cwd=cwd, progress_bar=False, log_output=False,
            engine_name=notebook_engine.NAME,
            start_timeout=start_seconds, kernel_manager_class=kernel_provisioner.manager_class(pool_name, pool_reason),
            shutdown_kernel="immediate",
        ))

    if not pool[0]:
        return run(*pool, KERNEL_START_SECONDS)
    try:
        return run(*pool, FORKED_START_SECONDS)
    except RuntimeError as error:
        if not kernel_log.never_answered(error):
            raise
        print(f"study: the forked kernel did not answer ({error}); running the notebook on a plain kernel",
              file=sys.stderr, flush=True)
    return run("", "a forked kernel did not answer", KERNEL_START_SECONDS)


def worker_start(runner: int, environment: dict[str, str] | None = None) -> None:
    """Set up a worker: it dies with the runner (:func:`study.report.lifetime.die_with_parent`), has the runner's
    ``environment`` (a worker forked from :func:`worker_context`'s server has the server's), and the kernels it
    starts use one BLAS thread.

    With a kernel per core, a second thread each only makes them take turns (measured: a bootstrap
    9 times slower beside another kernel). It is set whatever the number of workers, because the
    thread count can change the last bit of a sum: ``--only 02`` must give the same bytes as a full run.
    """
    lifetime.die_with_parent(runner)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    os.environ.update(kernel_provisioner.kernel_environment())


def execute_all(todo: list, registered: dict, kernels, staging: Path, data_path: Path, prepared: Path | None,
                columns: Path | None, per_notebook: dict, workers: int, progress: Callable[[str], None], tickets: int,
                early: Sequence[str] = (), meanwhile: Callable[[], None] | None = None) -> None:
    """Execute the runs ``todo`` in ``workers`` worker processes, kernels from the pool ``kernels``.

    They start in :func:`study.analyses.start_order` for ``tickets`` tickets, each taking the next when
    one ends; each run's status, reason and seconds are set as it ends, with a line to ``progress``.
    ``registered`` maps a run's name to its analysis, ``per_notebook`` to its parameters. The first of
    ``early`` in that order, one fewer than ``workers``, start before ``meanwhile()`` runs in this
    process; the others after it.
    """
    # Here, not at the top: a worker imports this module and needs none of them.
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from study import config
    from study.analyses import start_order

    done = 0
    order = [a.name for a in start_order([registered[run.name] for run in todo], tickets)]
    ordered = sorted(todo, key=lambda run: order.index(run.name))
    first = [run for run in ordered if run.name in early][: workers - 1]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(),
                               initializer=worker_start, initargs=(os.getpid(), dict(os.environ)))

    def submit(run):
        return pool.submit(
            execute_notebook,
            str(registered[run.name].notebook),
            str(staging / "notebooks" / f"{run.name}.ipynb"),
            str(staging / f"{run.name}.html"),
            {"data_path": str(data_path if registered[run.name].kind == "experiment" else prepared),
             "results_dir": str(staging / "results"),
             **({"columns_path": str(columns)} if columns and registered[run.name].reads_map else {}),
             **per_notebook[run.name]},
            str(config.NOTEBOOKS),
            str(staging / "logs" / f"{run.name}.log"),
            (kernels.name, kernels.reason),
        )

    try:
        futures = {submit(run): run for run in first}
        if meanwhile is not None:
            meanwhile()
        futures.update({submit(run): run for run in ordered if run not in first})
        for future in as_completed(futures):
            run = futures[future]
            run.status, run.reason, run.seconds = future.result()
            done += 1
            progress(f"  [{done}/{len(todo)}] {run.name}: {run.status} ({run.seconds:.1f} s)"
                     + (f" - {run.reason}" if run.reason else ""))
    finally:
        # Idle workers exit while the index is written; an interrupted run drops what has not started.
        pool.shutdown(wait=False, cancel_futures=True)
