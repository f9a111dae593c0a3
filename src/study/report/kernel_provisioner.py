"""Kernels from the pool (:mod:`study.report.kernel_pool`) for ``study run``, through jupyter_client's own API.

``study run`` hands papermill :func:`manager_class`'s kernel manager. Its provisioner asks the pool for a
forked kernel instead of starting a process; everything else (connection file, ports, heartbeat, interrupt
by SIGINT to the kernel's process group, kill, shutdown, the port-race retry of
:mod:`study.report.kernel_log`) is jupyter_client's as for any kernel. When the pool cannot give a kernel
(not started, refused the request, ended), the provisioner says why on stderr — the analysis's kernel log —
and starts a plain kernel. JupyterLab and nbval never see any of this: they keep the ordinary ``python3``
kernel.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from study import config

# A kernel per core already keeps the cores busy: a second BLAS thread each only makes them take turns,
# and the thread count can change the last bit of a sum. Kernels, and so the pool, get one thread.
ONE_BLAS_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Arrow's allocator (mimalloc) keeps the memory of freed columns for reuse: at 10 million tickets a kernel that
# read its columns held 1.1 GB for a 0.3 GB frame, 0.6 GB with it returned at once. A kernel beside another
# at the run's peak makes that the run's memory. Set unless the environment sets it.
RETURN_FREED_MEMORY = {"MIMALLOC_PURGE_DELAY": "0"}
# How long a kernel request waits for the pool, which may still be importing when the first one comes.
WAIT_SECONDS = 300.0
STOP_SECONDS = 5.0
KILL_POLL_SECONDS, KILL_WAITS = 0.002, 500  # a killed kernel waited for at most a second


def kernel_environment() -> dict[str, str]:
    """The environment the runner's kernels get: this process's, with one BLAS thread unless one is set and
    Arrow's freed memory returned at once (:data:`RETURN_FREED_MEMORY`) unless set otherwise."""
    return {**RETURN_FREED_MEMORY, **os.environ, **{name: os.environ.get(name, "1") for name in ONE_BLAS_THREAD}}


@dataclass
class Pool:
    """A running pool server (``name`` set), or why there is none (``reason``)."""

    name: str = ""
    reason: str = ""
    process: subprocess.Popen | None = None
    log: Path | None = None  # where the server's own output goes, when it has a name
    # An early pool's output (:func:`start_early_pool`): a file without a name, so that a run killed before
    # its report exists leaves nothing behind; its bytes are copied into the report by :meth:`keep_log`.
    unnamed_log: BinaryIO | None = None

    def stop(self) -> None:
        """End the server; kernels it forked die with it (they are all shut down by then in a normal run)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_SECONDS)

    def keep_log(self, report_log: Path) -> None:
        """Copy what an early pool printed so far into ``report_log``, when it printed anything."""
        if self.unnamed_log is None:
            return
        # pread leaves the file's offset, which the server shares, where the server's own writes put it.
        descriptor, offset = self.unnamed_log.fileno(), 0
        chunk = os.pread(descriptor, 1 << 20, offset)
        if not chunk:
            return
        with open(report_log, "wb") as copy:
            while chunk:
                copy.write(chunk)
                offset += len(chunk)
                chunk = os.pread(descriptor, 1 << 20, offset)

    def end(self) -> None:
        """Stop the server and let go of an early pool's unnamed log."""
        self.stop()
        if self.unnamed_log is not None:
            self.unnamed_log.close()
            self.unnamed_log = None


def early_pool(data_path: Path) -> Pool | None:
    """:func:`start_early_pool` when ``data_path`` is a file of small data (:data:`study.config.SMALL_DATA_BYTES`),
    else None: small data is checked in a moment, so the pool's imports start first, beside the checks. The
    pool does nothing a failed check would have to undo. Large data is prepared first, the pool started after.
    """
    path = Path(data_path)
    return start_early_pool() if path.is_file() and path.stat().st_size <= config.SMALL_DATA_BYTES else None


def start_early_pool() -> Pool:
    """:func:`start_pool` before the run's report folder exists, its output in a file without a name in the temp
    folder (:attr:`Pool.unnamed_log`): copied into the report by :meth:`Pool.keep_log`, gone with the run."""
    unnamed = tempfile.TemporaryFile(prefix="study-kernel-pool-")  # never named where the OS allows it
    pool = _start(unnamed)
    if pool.process is None:  # no pool (turned off, or it could not start): nothing will write the log
        unnamed.close()
    else:
        pool.unnamed_log = unnamed
    return pool


def start_pool(log: Path) -> Pool:
    """Start a pool server for this run, its output going to ``log`` (removed by the caller when empty).

    ``STUDY_KERNEL_POOL=0`` in the environment turns the pool off: every notebook gets a plain kernel.
    """
    if reason := _no_pool_reason():  # before opening the log: no server, no file
        return Pool(reason=reason)
    with open(log, "ab") as handle:
        pool = _start(handle)
    if pool.process is not None:
        pool.log = log
    return pool


def _no_pool_reason() -> str:
    """Why this run gets no pool server, or ``""``."""
    if os.environ.get("STUDY_KERNEL_POOL", "1") == "0":
        return "turned off (STUDY_KERNEL_POOL=0)"
    if not sys.platform.startswith("linux"):
        return "the forking kernel pool needs Linux"
    return ""


def _start(output: BinaryIO) -> Pool:
    """Start the pool server with its stdout and stderr on ``output``."""
    if reason := _no_pool_reason():
        return Pool(reason=reason)
    name = f"study-kernels-{os.getpid()}-{secrets.token_hex(8)}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # `-c` puts the current folder first on the path, as `python -m ipykernel_launcher` does; it is
    # removed before anything is imported, as ipykernel_launcher removes it.
    code = (f"import sys; del sys.path[0]; from study.report.kernel_pool import serve; "
            f"serve({listener.fileno()}, {os.getpid()})")
    try:
        # Bound and listening before the server starts: the first kernel may be asked for at once.
        listener.bind("\0" + name)
        listener.listen(64)
        process = subprocess.Popen([sys.executable, "-c", code], env=kernel_environment(), stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()])
    except OSError as error:
        return Pool(reason=f"could not start: {error}")
    finally:
        listener.close()
    return Pool(name, "", process)


class ForkedKernel:
    """A kernel forked by the pool, with the part of :class:`subprocess.Popen` jupyter_client uses.

    The kernel is the pool's child, not ours: the pool reaps it and sends its exit code over the
    connection this object holds; closing that connection makes the pool kill the kernel.
    """

    stdin = stdout = stderr = None

    def __init__(self, connection: socket.socket, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                data = self._connection.recv(4096, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                data = b""
            # No message: the pool itself ended, and its kernels were killed with it.
            self.returncode = json.loads(data).get("exit", 1) if data else -signal.SIGKILL
            self._connection.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never signal a pid that may have been reused
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def ask_pool(name: str, cmd: list[str], env: dict, cwd: str, stdout: int, stderr: int,
             timeout: float = WAIT_SECONDS) -> ForkedKernel | str:
    """Ask the pool ``name`` for a kernel; the kernel, or why there is none."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.settimeout(timeout)
    try:
        connection.connect("\0" + name)
        request = json.dumps({"argv": cmd, "env": env, "cwd": cwd}).encode()
        socket.send_fds(connection, [request], [stdout, stderr])
        reply = json.loads(connection.recv(4096) or b"{}")
    except (OSError, ValueError) as error:
        connection.close()
        return f"the pool did not answer ({type(error).__name__}: {error})"
    if "pid" not in reply:
        connection.close()
        return reply.get("refused") or "the pool ended before answering"
    connection.setblocking(False)  # from now on polled
    return ForkedKernel(connection, reply["pid"])


def _provisioner_class():
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """jupyter_client's local provisioner, whose kernels come from the pool when it can give one."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            name = getattr(self.parent, "pool_name", "")
            reason = getattr(self.parent, "pool_reason", "") or "no pool"
            if name:
                env = dict(kwargs.get("env") or os.environ)
                env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
                cwd = str(kwargs.get("cwd") or Path.cwd())
                streams = [kwargs.get(s) for s in ("stdout", "stderr")]
                fds = [s if isinstance(s, int) else s.fileno() if s is not None else n for s, n in zip(streams, (1, 2))]
                kernel = await asyncio.get_running_loop().run_in_executor(None, ask_pool, name, cmd, env, cwd, *fds)
                if isinstance(kernel, ForkedKernel):
                    self.process, self.pid, self.pgid, self.cwd = kernel, kernel.pid, kernel.pid, cwd
                    return self.connection_info
                reason = kernel
            print(f"study: kernel pool not used ({reason}); starting a plain kernel", file=sys.stderr, flush=True)
            return await super().launch_kernel(cmd, **kwargs)

        async def send_signal(self, signum: int) -> None:
            if isinstance(self.process, ForkedKernel) and self.process.poll() is not None:
                return  # ended: its pid and group may belong to someone else by now
            await super().send_signal(signum)

        async def kill(self, restart: bool = False) -> None:
            await super().kill(restart)
            # jupyter_client looks again 0.1 s after a kill; the pool says a kernel has ended within milliseconds.
            # Waiting for that here, the next notebook's kernel starts 0.1 s sooner.
            for _ in range(KILL_WAITS):
                if not isinstance(self.process, ForkedKernel) or self.process.poll() is not None:
                    break
                await asyncio.sleep(KILL_POLL_SECONDS)

        async def cleanup(self, restart: bool = False) -> None:
            if isinstance(self.process, ForkedKernel):  # closing the connection ends a kernel still running
                self.process._connection.close()
            await super().cleanup(restart)

    return ForkProvisioner


def manager_class(name: str, reason: str = "") -> type:
    """A jupyter_client kernel manager class whose kernels come from the pool ``name`` (for papermill).

    Parameters
    ----------
    name : str
        :attr:`Pool.name` of the run's pool; ``""`` gives plain kernels, each log saying why.
    reason : str
        Why there is no pool, when there is none.
    """
    import uuid

    from jupyter_client import AsyncKernelManager
    from jupyter_client.asynchronous import AsyncKernelClient
    from traitlets import DottedObjectName, Type

    from study.report.ready_client import ReadyKernelClient

    provisioner = _provisioner_class()

    class PoolKernelManager(AsyncKernelManager):
        pool_name = name
        pool_reason = reason
        client_class = DottedObjectName("study.report.ready_client.ReadyKernelClient")
        client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient)

        async def _async_pre_start_kernel(self, **kw: Any):
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = provisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return PoolKernelManager
