"""A kernel pool: one process imports the scientific stack and ``study`` once, then forks a kernel per notebook.

A fresh ``python3`` kernel spends most of its first seconds importing pandas, scipy, statsmodels,
matplotlib, seaborn and ``study``; every notebook of a run pays it again. The pool server pays it once:
it imports those modules, then waits on a socket. For each kernel asked of it (by
:class:`study.report.kernel_provisioner.ForkProvisioner`) it forks; the child becomes exactly the kernel
``python -m ipykernel_launcher -f <connection file>`` would have started — the environment, working
folder, standard output and error of the asking process, a session of its own (so the kernel manager can
interrupt and kill its process group), ipykernel's own start-up — except that its imports are already done.

What keeps a forked kernel the same as a fresh one:

- nothing that differs per process is made before the fork: no DuckDB connection, no matplotlib figure or
  backend (``matplotlib_inline``'s backend must be imported inside the kernel, where it hooks into IPython),
  no thread but the few that libraries start at import and that fork tolerates (:data:`FORK_SAFE_THREADS`);
- the environment is the one the runner gives its kernels (one BLAS thread), checked on each request: a
  request whose environment differs in anything but the per-kernel variables is refused, and the
  provisioner starts a plain kernel instead, saying why in the kernel log;
- numpy's global random state is reseeded from the system in each child, as each fresh process would be.

Started by :func:`study.report.kernel_provisioner.start_pool` as ``python -c`` calling :func:`serve` with
a listening abstract socket (Linux; it leaves no file behind) and the pid of the runner. The server dies with its parent (the runner) and its kernels die with it; a kernel whose asking
process goes away is killed.
"""

from __future__ import annotations

import atexit
import faulthandler
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import traceback

from study.report.lifetime import die_with_parent

# Imported before a fork so that no kernel imports them again; study's own modules are added from its API.
PRELOAD = (
    "numpy", "pandas", "pyarrow.parquet", "scipy.stats", "scipy.optimize", "matplotlib.pyplot", "seaborn",
    "sklearn.linear_model", "yaml",
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython.core.interactiveshell",
    "ipykernel.debugger",  # debugpy: 0.14 s of each kernel's start otherwise
)
# Left to the kernel, with every module that imports them: duckdb reads the IPython shell's configuration
# when imported (to choose how to show progress), which the pool has not got.
NOT_PRELOADED = ("duckdb", "_duckdb")
# Threads some libraries start when imported. A forked child has none of them; these libraries cope
# (jemalloc resets its background purging after a fork; polars starts its cleaner again when needed).
FORK_SAFE_THREADS = ("jemalloc_bg_thd", "polars-ooc-clea")
# Set for each kernel by the kernel manager; any other difference in the environment refuses the fork.
PER_KERNEL_ENV = ("JPY_PARENT_PID", "JPY_SESSION_NAME")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
MESSAGE_BYTES = 1 << 20
# A forked kernel that has run nothing after this long writes its threads' stacks to its log: the runner gives
# up on it at 60 s (study.report.execute.FORKED_START_SECONDS), and the stacks are what can say why.
SILENT_KERNEL_SECONDS = 45


class _KernelShell:
    """Stands for a kernel's IPython shell while the stack is imported, and notes what is asked of it.

    Some libraries look at import time for the shell they run in: pandas shows at most 20 columns in a
    kernel but fits the terminal's width elsewhere. Imported in the pool, they must find a kernel's shell,
    as they would in a kernel. Only whether it is a kernel's may be asked: anything else (a library that
    hooks into the shell when imported) would be lost in the fork, and the pool is not used.
    """

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str):
        self.asked.append(name)
        if name == "kernel":
            return True
        raise AttributeError(name)


class _LeftToTheKernel:
    """An import hook that refuses the modules of :data:`NOT_PRELOADED` while the pool imports."""

    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name.partition(".")[0] in NOT_PRELOADED:
            raise ImportError(f"{name} is imported by the kernel, not the pool")
        return None


def preload() -> str:
    """Import the stack and study's API modules; return why forking is unsafe (``""`` when it is safe)."""
    import builtins
    import importlib

    # ipykernel sets this before a kernel's first import of matplotlib; it must be set before ours too,
    # or matplotlib would have settled on another default backend by the time the kernel starts.
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = INLINE_BACKEND
    # debugpy warns when imported by a Python with frozen modules (the pool's; a kernel's has them off).
    quiet_debugger = "PYDEVD_DISABLE_FILE_VALIDATION" not in os.environ
    if quiet_debugger:
        os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    shell = _KernelShell()
    importing, real = True, None
    builtins.get_ipython = lambda: shell  # as IPython defines it in a kernel; IPython's own is patched below
    try:
        from IPython.core import getipython

        real = getipython.get_ipython
        getipython.get_ipython = lambda: shell if importing else real()
        import IPython

        IPython.get_ipython = getipython.get_ipython
        import study

        sys.meta_path.insert(0, _LeftToTheKernel)
        for name in [*PRELOAD, *(target.partition(":")[0] for target in study._API.values())]:
            try:
                importlib.import_module(name)
            except ImportError:  # it needs a module left to the kernel (or is broken: the kernel says so)
                continue
    except Exception as error:
        return f"importing the stack failed: {type(error).__name__}: {error}"
    finally:
        importing = False  # IPython's get_ipython, as bound by any module, answers as before from now on
        if quiet_debugger:
            del os.environ["PYDEVD_DISABLE_FILE_VALIDATION"]
        del builtins.get_ipython
        if "IPython" in sys.modules and real is not None:
            sys.modules["IPython.core.getipython"].get_ipython = sys.modules["IPython"].get_ipython = real
        if _LeftToTheKernel in sys.meta_path:
            sys.meta_path.remove(_LeftToTheKernel)
    if [name for name in shell.asked if name != "kernel"]:
        return f"a library asked the kernel's shell for {', '.join(sorted(set(shell.asked) - {'kernel'}))} when imported"
    if "matplotlib_inline.backend_inline" in sys.modules:
        return "matplotlib's inline backend was imported outside a kernel"
    others = [name for name in _thread_names()[1:] if name not in FORK_SAFE_THREADS]
    if others:
        return f"threads running in the pool process: {', '.join(others)}"
    return ""


def _thread_names() -> list[str]:
    """Names of this process's OS threads, the main thread first."""
    names = []
    for task in sorted(os.listdir("/proc/self/task"), key=lambda t: t != str(os.getpid())):
        try:
            with open(f"/proc/self/task/{task}/comm") as handle:
                names.append(handle.read().strip())
        except OSError:  # a thread that ended while listed
            continue
    return names


def refusal(request: dict, base_env: dict, problem: str, loaded_env: dict | None = None) -> str:
    """Why this server will not fork the kernel ``request`` asks for (``""`` when it will).

    Parameters
    ----------
    request : dict
        ``argv`` (the kernel command), ``env`` and ``cwd`` as the kernel manager would launch it.
    base_env : dict
        The environment this server started with (before its own ``MPLBACKEND`` default).
    problem : str
        What :func:`preload` found, if anything.
    loaded_env : dict, optional
        The environment after the imports. A library may set a variable of its own when imported
        (polars sets jemalloc's options); the asking process, having imported it too, has the same value.
    """
    if problem:
        return problem
    argv = request.get("argv") or []
    if argv[:3] != [sys.executable, "-m", "ipykernel_launcher"]:
        return f"not this Python's ipykernel: {' '.join(argv[:3])}"
    env = request.get("env") or {}
    loaded_env = base_env if loaded_env is None else loaded_env
    differing = sorted(k for k in {*env, *base_env} - set(PER_KERNEL_ENV)
                       if env.get(k) != base_env.get(k) and env.get(k) != loaded_env.get(k))
    if differing:
        return f"the kernel's environment differs from the pool's in {', '.join(differing[:5])}"
    if not os.path.isdir(request.get("cwd") or ""):
        return f"no folder {request.get('cwd')!r}"
    return ""


def serve(listening: int, parent: int) -> None:
    """Fork a kernel for each request on the listening socket ``listening`` until the parent process ends.

    The parent made the socket and listens on it already: a request that comes while this server
    still imports waits in the backlog.
    """
    die_with_parent(parent)
    base_env = dict(os.environ)
    listener = socket.socket(fileno=listening)
    gc.disable()  # no collection while importing leaves holes in pages the kernels will share
    problem = preload()
    # The imported objects move to a generation no collection visits: a kernel's collections would otherwise
    # write to every one of them, copying each shared page into fresh memory (slow to touch on a VM).
    gc.freeze()
    loaded_env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND" or k in base_env}
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    kernels: dict[int, socket.socket | None] = {}  # pid -> the connection of the process that asked for it
    while True:
        waiting = [c for c in kernels.values() if c is not None]
        readable, _, _ = select.select([listener, wake_read, *waiting], [], [])
        if wake_read in readable:
            try:
                while wake_read.recv(512):
                    pass
            except BlockingIOError:
                pass
            _reap(kernels)
        for pid, connection in list(kernels.items()):
            if connection is not None and connection in readable:
                # The asking process closed its end (it ended, or gave up on the kernel): the kernel
                # must not outlive it. The pid stays listed until it is reaped.
                _kill_group(pid)
                connection.close()
                kernels[pid] = None
        if listener in readable:
            connection, _ = listener.accept()
            pid = _answer(connection, (base_env, loaded_env), problem, (listener, wake_read, wake_write, *waiting))
            if pid:
                kernels[pid] = connection
            else:
                connection.close()


def _reap(kernels: dict[int, socket.socket | None]) -> None:
    """Collect ended kernels and tell each asking process how its kernel ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = kernels.pop(pid, None)
        if connection is not None:
            try:
                connection.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
            except OSError:  # the asking process is gone already
                pass
            connection.close()


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):  # the group, and the kernel itself should it not have its session yet
        try:
            kill(pid, signal.SIGKILL)
        except OSError:  # already ended, waiting to be reaped
            pass


def _answer(connection: socket.socket, envs: tuple[dict, dict], problem: str, inherited: tuple) -> int:
    """Read one request, fork its kernel and reply with the pid (0 when refused or unreadable)."""
    try:
        uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():  # an abstract socket is visible to every user: only ours may ask
            return 0
        connection.settimeout(10)
        data, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, 2)
        request = json.loads(data)
    except (OSError, ValueError):
        return 0
    reason = refusal(request, envs[0], problem, envs[1]) if len(fds) == 2 else "no standard output and error were passed"
    if reason:
        connection.send(json.dumps({"refused": reason}).encode())
        for fd in fds:
            os.close(fd)
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        _become_kernel(request, fds, server, (connection, *inherited))
    for fd in fds:
        os.close(fd)
    connection.send(json.dumps({"pid": pid}).encode())
    return pid


def _become_kernel(request: dict, fds: list[int], server: int, sockets: tuple) -> None:
    """In the forked child: become the kernel ``python -m ipykernel_launcher ...`` would have been."""
    code = 1
    try:
        gc.enable()
        os.setsid()  # as jupyter_client starts kernels: the manager signals the whole group
        die_with_parent(server)  # a kernel ends with the pool (which ends with the runner)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sock in sockets:
            sock.close()
        stdin = os.open(os.devnull, os.O_RDONLY)  # a plain kernel's stdin is a pipe already closed: EOF too
        for target, fd in ((0, stdin), (1, fds[0]), (2, fds[1])):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # the global generator is per process in a fresh kernel
        import ipykernel_launcher
        from ipykernel import kernelapp

        sys.argv = [ipykernel_launcher.__file__, *request["argv"][3:]]
        # ipykernel read JPY_PARENT_PID when it was imported (in the server): this kernel's is given here.
        app = kernelapp.IPKernelApp.instance(parent_handle=int(os.environ.get("JPY_PARENT_PID") or 0))
        faulthandler.dump_traceback_later(SILENT_KERNEL_SECONDS)
        app.initialize()  # then start, as IPKernelApp.launch_instance does
        app.shell.events.register("pre_execute", faulthandler.cancel_dump_traceback_later)
        app.start()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

