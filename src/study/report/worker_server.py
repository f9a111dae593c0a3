"""What the run's worker server loads before it forks the workers (:func:`study.report.execute.worker_context`).

Imported once, in that server alone: papermill, nbconvert, the run's notebook engine and kernel client, and the
exporter warmed on a small page (:func:`study.report.export.warm_up`). Each worker started with ``spawn`` did all
of it again for itself: 0.9 s of CPU per worker at the start of a run, when the kernel pool's imports need the
cores. It is loaded at a lower priority (:data:`study.report.execute.SPARE_TIME`): the kernel pool's imports, which
the first notebooks wait for as much, go first.

The server ends with the run that started it (Linux's parent-death signal; its workers, forked from it, end with it
in turn): each worker keeps a handle that multiprocessing's server waits on, so without this a runner killed with
``kill -9`` would leave the server and its workers waiting on each other.
"""

from __future__ import annotations

import os

from study.report import execute, lifetime

lifetime.die_with_parent(os.getppid())  # the runner, which has just started this server


def _load() -> None:
    """Import what a worker runs and warm its exporter (an error is met again, and reported, by the worker)."""
    import papermill  # noqa: F401

    from study.report import export, notebook_engine, ready_client  # noqa: F401

    export.warm_up()


# In a thread of its own, which alone has the lower priority; joined before anything is forked.
execute.in_background(_load, niceness=execute.SPARE_TIME).join()
