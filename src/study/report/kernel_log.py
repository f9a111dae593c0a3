"""Kernel logs that hold only what a reader should look at, and kernels started again when a start fails.

Every ipykernel 7 start prints one warning that the kernel talks to papermill over TCP without
encryption. The kernel listens on the loopback interface of the machine that runs the study, so the
warning says nothing about this run; left in, it is the whole content of every log and hides the
messages that matter. That one warning, and nothing else, is dropped.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The whole line as ipykernel writes it, anchored at its start: a traceback or a user message that
# merely quotes these words is kept.
HARMLESS = (
    re.compile(rb"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\. "),
)


def quiet(text: bytes) -> bytes:
    """The log text without its known harmless lines.

    Parameters
    ----------
    text : bytes
        A kernel log as written (bytes: the kernel's stderr is not promised to be UTF-8).

    Returns
    -------
    bytes
        The same lines, in order, less those matching :data:`HARMLESS`.
    """
    lines = text.splitlines(keepends=True)
    return b"".join(line for line in lines if not any(known.match(line) for known in HARMLESS))


def clean(path: str | Path) -> None:
    """Drop the known harmless lines from the log at ``path`` in place; a missing log is left missing.

    Parameters
    ----------
    path : str or Path
        The kernel log of one analysis.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return
    kept = quiet(text)
    if kept != text:
        path.write_bytes(kept)


KERNEL_START_ATTEMPTS = 3


def never_answered(error: BaseException) -> bool:
    """Whether ``error`` is jupyter_client's for a kernel alive but silent until the start timeout."""
    return isinstance(error, RuntimeError) and str(error).startswith("Kernel didn't respond in ")


def start_again_if_the_kernel_died(execute: Callable[[], T], attempts: int = KERNEL_START_ATTEMPTS) -> T:
    """Call ``execute`` (a papermill run), starting it again when its kernel died before it answered.

    Two kernels starting at once can draw the same free TCP port; the one that loses the race dies
    before it replies to ``kernel_info`` (``zmq.error.ZMQError: Address already in use`` in its log).
    Nothing of the notebook has run then, so starting it again is safe; any other error is raised.
    Each retry is said on stderr, which the runner sends to the analysis's log.
    """
    for attempt in range(1, attempts + 1):
        try:
            return execute()
        except RuntimeError as error:
            if "before replying to kernel_info" not in str(error) or attempt == attempts:
                raise
            print(f"study: the kernel died while starting ({error}); starting it again", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")
