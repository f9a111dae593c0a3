"""What the run's worker server loads before it forks the workers (:func:`study.report.execute.worker_context`).

Imported once, in that server alone: papermill, nbconvert, the run's notebook engine and kernel client, and the
exporter warmed on a small page (:func:`study.report.export.warm_up`). Each worker started with ``spawn`` did all
of it again for itself: 0.9 s of CPU per worker at the start of a run, when the kernel pool's imports need the
cores.

The server ends with the run that started it (Linux's parent-death signal; its workers, forked from it, end with it
in turn): each worker keeps a handle that multiprocessing's server waits on, so without this a runner killed with
``kill -9`` would leave the server and its workers waiting on each other.
"""

from __future__ import annotations

import os

import papermill  # noqa: F401 - loaded here so that every worker forked from this process has it

from study.report import execute, export, lifetime, notebook_engine, ready_client  # noqa: F401 - likewise

lifetime.die_with_parent(os.getppid())  # the runner, which has just started this server


def _warm() -> None:
    try:
        export.warm_up()
    except Exception:  # noqa: BLE001, S110 - a worker's own export meets the same failure and reports it
        pass


_warm()
