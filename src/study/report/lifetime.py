"""The processes of a run live and die with it.

A run starts worker processes, and each worker starts a Jupyter kernel. Were the runner killed
(``kill -9``, a closed terminal), the workers would go on writing into a staging folder nobody
removes. Each worker therefore asks the kernel of the operating system to kill it when its parent
dies (Linux's parent-death signal), and a kernel notices its worker's death on its own (ipykernel
polls its parent once a second). When the runner is interrupted more gently, it ends every
descendant itself before removing its staging folder.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have this process killed when its parent process ends (Linux; elsewhere nothing happens).

    Parameters
    ----------
    parent : int
        The pid of the parent as the parent saw it: if the parent already died before the
        request was made, this process exits at once instead of running orphaned. A process forked by a
        multiprocessing fork server that ``parent`` started has that server as its parent: the server ends
        when ``parent`` does, and this process with it.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the ipykernel poller and kill_descendants remain
            pass
    if os.getppid() != parent and _parent_of(os.getppid()) != parent:
        os._exit(1)


def _parent_of(pid: int) -> int | None:
    """The parent pid of process ``pid``; None when it has ended."""
    import psutil

    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


def kill_workers(timeout: float = 5.0) -> int:
    """Kill the worker processes this one started, and everything they started (kernels); return how many.

    Kernels run in sessions of their own, so they do not get the terminal's Ctrl-C; they are found
    by walking each worker's process tree. Other helpers of this process (multiprocessing's
    resource tracker) are left to end on their own.
    """
    import multiprocessing

    import psutil

    doomed = []
    for worker in multiprocessing.active_children():
        try:
            process = psutil.Process(worker.pid)
            doomed += [process, *process.children(recursive=True)]
        except psutil.Error:
            continue
    for process in doomed:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(doomed, timeout=timeout)
    return len(doomed)


class TerminateAsInterrupt:
    """Within the block, SIGTERM (and SIGHUP) end the run like Ctrl-C, so its clean-up runs.

    Only the main thread can set signal handlers; elsewhere the block changes nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self) -> "TerminateAsInterrupt":
        self._previous = {}
        if _main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, _raise_interrupt)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _raise_interrupt(number, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(number).name}")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
