"""The kernel pool: forked kernels start, run a notebook as a fresh kernel would, can be interrupted and
killed, leave no process behind, and give way to a plain kernel, saying why, when the pool cannot serve."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import nbformat
import papermill
import psutil
import pytest

from study.report import execute, kernel_pool, kernel_provisioner

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel pool forks: Linux only")

# What a notebook shows that depends on how its kernel was started: pandas' column limit (set when pandas
# is imported, by whether it runs in a kernel), the inline figure, the folder, the environment, stderr.
CELLS = [
    "import os, sys\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "pd.DataFrame(np.arange(60.0).reshape(2, 30), columns=[f'column {i}' for i in range(30)])",
    "fig, ax = plt.subplots(figsize=(3, 2))\n_ = ax.plot([0, 1, 2], [2, 0, 1])",
    "print(os.getcwd(), os.environ.get('STUDY_POOL_TEST'), sys.argv[1:2])\nprint(sys.path)",
    "print('to stderr', file=sys.stderr)\nimport warnings\nwarnings.warn('a warning', UserWarning)",
    "import matplotlib\nprint(matplotlib.get_backend(), pd.get_option('display.max_columns'))",
]


def _outputs(path):
    """Code cells' outputs, less the kernel's pid in warnings' file names (it differs between any two kernels)."""
    cells = [cell.outputs for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return json.loads(re.sub(r"ipykernel_\d+", "ipykernel_<pid>", json.dumps(cells)))


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    # The pool compares each kernel's environment with its own: no variable may differ between its start
    # and the kernels' (pytest's PYTEST_CURRENT_TEST changes with each phase: each test removes it).
    saved = dict(os.environ)
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    os.environ["STUDY_POOL_TEST"] = "seen"
    os.environ.update(kernel_provisioner.kernel_environment())  # as the runner's workers do (study.report.execute)
    started = kernel_provisioner.start_pool(tmp_path_factory.mktemp("pool") / "pool.log")
    assert started.name and not started.reason
    started.env = dict(os.environ)  # for a process of the test's own that asks the pool
    yield started
    started.stop()
    assert started.process.poll() is not None
    os.environ.clear()
    os.environ.update(saved)


def _same_environment():
    """Called first in a test that asks the pool: pytest sets its variable again for the test's call."""
    os.environ.pop("PYTEST_CURRENT_TEST", None)  # and again for the teardown, which removes it


def test_a_forked_kernel_runs_a_notebook_as_a_fresh_kernel_does(pool, tmp_path, capfd):
    _same_environment()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    for name, extra in (("plain", {}), ("pool", {"kernel_manager_class": kernel_provisioner.manager_class(pool.name)})):
        papermill.execute_notebook(str(tmp_path / "n.ipynb"), str(tmp_path / f"{name}.ipynb"), cwd=str(tmp_path),
                                   progress_bar=False, **extra)
    assert "kernel pool not used" not in capfd.readouterr().err
    plain, forked = _outputs(tmp_path / "plain.ipynb"), _outputs(tmp_path / "pool.ipynb")
    assert "image/png" in forked[2][0]["data"] and "30 columns" in forked[1][0]["data"]["text/plain"]
    assert forked[3][0]["text"].startswith(f"{tmp_path} seen ['-f']\n")
    assert forked[5][0]["text"] == "module://matplotlib_inline.backend_inline 20\n"
    assert forked == plain


async def _start(pool, cwd):
    manager = kernel_provisioner.manager_class(pool.name)(kernel_name="python3")
    await manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


def test_a_forked_kernel_can_be_interrupted_and_killed_and_leaves_nothing(pool, tmp_path):
    _same_environment()
    outputs = []

    async def scenario():
        manager, client = await _start(pool, tmp_path)
        process = manager.provisioner.process
        assert isinstance(process, kernel_provisioner.ForkedKernel)
        assert psutil.Process(process.pid).ppid() == pool.process.pid and os.getpgid(process.pid) == process.pid
        # imported before the fork: the stack and study's analyses; not: duckdb, the inline backend
        preloaded = ("pandas", "study.regression.repeat", "duckdb", "matplotlib_inline.backend_inline")
        shown = await client.execute_interactive(f"import sys\nprint([m in sys.modules for m in {preloaded}])",
                                                 timeout=20, output_hook=outputs.append)
        assert shown["content"]["status"] == "ok"
        assert [o["content"]["text"] for o in outputs if o["msg_type"] == "stream"] == ["[True, True, False, False]\n"]
        reply = client.execute_interactive("import time\ntime.sleep(60)", timeout=0.5)
        with pytest.raises(TimeoutError):
            await reply
        started = time.monotonic()
        await manager.interrupt_kernel()
        reply = await client.get_shell_msg(timeout=20)
        assert reply["content"]["ename"] == "KeyboardInterrupt" and time.monotonic() - started < 10
        # ipykernel aborts what was asked before the interrupt was handled; then it runs requests again
        for _ in range(20):
            if (await client.execute_interactive("1 + 1", timeout=20))["content"]["status"] == "ok":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the kernel no longer runs code after an interrupt")
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
        assert process.returncode == -signal.SIGKILL and not await manager.is_alive()
        return process.pid

    pid = asyncio.run(scenario())
    assert not psutil.pid_exists(pid)


def test_a_killed_forked_kernel_has_ended_when_the_kill_returns(pool, tmp_path):
    # jupyter_client looks again only 0.1 s after a kill: the next notebook's kernel would wait for that.
    _same_environment()

    async def scenario():
        manager, client = await _start(pool, tmp_path)
        process = manager.provisioner.process
        client.stop_channels()
        await manager.provisioner.kill()
        assert process.returncode == -signal.SIGKILL  # the pool's word, read before kill returned
        await manager.shutdown_kernel(now=True)
        return process.pid

    pid = asyncio.run(scenario())
    assert not psutil.pid_exists(pid)


def test_a_kernel_dies_when_the_process_that_asked_for_it_is_killed(pool, tmp_path):
    _same_environment()
    # A worker killed mid-notebook: its end of the pool's connection closes, and the pool kills its kernel.
    asker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import asyncio, sys, time
        from study.report import kernel_provisioner
        async def main():
            manager = kernel_provisioner.manager_class({pool.name!r})(kernel_name="python3")
            await manager.start_kernel(cwd={str(tmp_path)!r})
            print(manager.provisioner.process.pid, flush=True)
            time.sleep(60)
        asyncio.run(main())
        """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pool.env)
    kernel = int(asker.stdout.readline())
    assert psutil.Process(kernel).ppid() == pool.process.pid, asker.stderr.readline()
    asker.kill()
    asker.wait()
    _, alive = psutil.wait_procs([psutil.Process(kernel)], timeout=10)
    assert not alive


def test_without_a_pool_the_kernel_is_a_plain_one_and_the_log_says_why(tmp_path, capfd):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    manager = kernel_provisioner.manager_class("study-kernels-nobody-listens")
    papermill.execute_notebook(str(tmp_path / "n.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                               kernel_manager_class=manager)
    assert _outputs(tmp_path / "out.ipynb")[0][0]["text"] == "42\n"
    assert "study: kernel pool not used (the pool did not answer (ConnectionRefusedError" in capfd.readouterr().err


def test_a_forked_kernel_that_never_answers_gives_way_to_a_plain_kernel(tmp_path, capfd, monkeypatch):
    # A pool whose kernel never answers: it forks nothing, but replies with a process that only sleeps.
    name = f"study-kernels-test-{os.getpid()}-silent"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("\0" + name)
    listener.listen(1)
    silent, connections = [], []

    def serve_once():
        connection, _ = listener.accept()
        _, fds, _, _ = socket.recv_fds(connection, kernel_pool.MESSAGE_BYTES, 2)
        for fd in fds:
            os.close(fd)
        silent.append(subprocess.Popen(["sleep", "600"], start_new_session=True))
        connection.send(json.dumps({"pid": silent[0].pid}).encode())
        connections.append(connection)  # kept open: to the asking process, the kernel is alive

    server = threading.Thread(target=serve_once, daemon=True)
    server.start()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    monkeypatch.setattr(execute, "FORKED_START_SECONDS", 3)
    try:
        execute.run_notebook(str(tmp_path / "n.ipynb"), str(tmp_path / "out.ipynb"), {}, str(tmp_path), (name, ""))
        server.join(5)
        assert _outputs(tmp_path / "out.ipynb")[0][0]["text"] == "42\n"
        err = capfd.readouterr().err
        assert "study: the forked kernel did not answer (Kernel didn't respond in 3 seconds)" in err
        assert "kernel pool not used (a forked kernel did not answer); starting a plain kernel" in err
        assert silent[0].wait(10) < 0  # the silent kernel was ended by a signal, not left behind
    finally:
        listener.close()
        for process in silent:
            process.kill()
        for connection in connections:
            connection.close()


def test_the_pool_refuses_what_it_cannot_fork_as_asked():
    base = {"PATH": "/bin", "OPENBLAS_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "kernel.json"]
    ask = {"argv": argv, "env": {**base, "JPY_PARENT_PID": "12", "JPY_SESSION_NAME": "x"}, "cwd": os.getcwd()}
    assert kernel_pool.refusal(ask, base, "") == ""
    assert kernel_pool.refusal(ask, base, "threads running in the pool process: x") == "threads running in the pool process: x"
    assert "environment differs" in kernel_pool.refusal({**ask, "env": {**base, "OPENBLAS_NUM_THREADS": "4"}}, base, "")
    assert "environment differs" in kernel_pool.refusal({**ask, "env": {"PATH": "/bin"}}, base, "")
    # a variable a library sets when imported (in the asking process as in the pool) is not a difference
    assert kernel_pool.refusal({**ask, "env": {**base, "LIB": "1"}}, base, "", {**base, "LIB": "1"}) == ""
    assert "not this Python" in kernel_pool.refusal({**ask, "argv": ["/usr/bin/python3", *argv[1:]]}, base, "")
    assert "no folder" in kernel_pool.refusal({**ask, "cwd": "/no/such/folder"}, base, "")


def test_a_pool_that_refuses_says_why_and_forks_nothing(pool):
    _same_environment()
    before = psutil.Process(pool.process.pid).children()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "unused.json"]
    answer = kernel_provisioner.ask_pool(pool.name, argv, {**os.environ, "OPENBLAS_NUM_THREADS": "4"}, os.getcwd(), 1, 2)
    assert answer == "the kernel's environment differs from the pool's in OPENBLAS_NUM_THREADS"
    assert psutil.Process(pool.process.pid).children() == before


def test_the_kernels_die_with_the_pool(pool, tmp_path):
    _same_environment()
    # last: it ends the pool the other tests share
    async def scenario():
        manager, client = await _start(pool, tmp_path)
        client.stop_channels()
        kernel = psutil.Process(manager.provisioner.process.pid)
        os.kill(pool.process.pid, signal.SIGKILL)  # as when the runner is killed: the pool dies with it
        _, alive = psutil.wait_procs([kernel], timeout=10)
        assert not alive
        assert manager.provisioner.process.poll() == -signal.SIGKILL

    asyncio.run(scenario())


FREED_ARROW_MEMORY = """
import gc, numpy as np, pyarrow as pa, pyarrow.compute as pc, psutil
process = psutil.Process()
zeros = pa.array(np.zeros(20_000_000))
before = process.memory_info().rss
parts = [pc.add(zeros.slice(i * 1_000_000, 1_000_000), 1) for i in range(20)]  # 160 MB in Arrow's memory
grown = process.memory_info().rss - before
del parts
gc.collect()
print(grown, process.memory_info().rss - before)
"""


def test_the_runners_kernels_give_arrows_freed_memory_back(monkeypatch):
    """Arrow's allocator keeps freed memory for reuse (at 10 million tickets 0.5 GB in a kernel that read its
    columns); the kernels' environment has it returned at once, unless the user's environment says otherwise."""
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    environment = kernel_provisioner.kernel_environment()
    assert environment["MIMALLOC_PURGE_DELAY"] == "0"

    def retained(env):
        grown, kept = map(int, subprocess.run([sys.executable, "-c", FREED_ARROW_MEMORY], env=env, check=True,
                                              capture_output=True, text=True).stdout.split())
        assert grown > 100 * 2**20
        return kept / grown

    assert retained(environment) < 0.25
    assert retained({k: v for k, v in environment.items() if k != "MIMALLOC_PURGE_DELAY"}) > 0.75  # the default keeps it
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "100")
    assert kernel_provisioner.kernel_environment()["MIMALLOC_PURGE_DELAY"] == "100"


def test_jupyterlab_kernels_give_arrows_freed_memory_back_as_the_runners_do():
    from study import config

    recipe = (config.ROOT / "Makefile").read_text().split("\nlab:")[1].split("\n\n")[0]
    for name, value in kernel_provisioner.RETURN_FREED_MEMORY.items():  # unless the environment sets another
        assert f"{name}=$${{{name}:-{value}}}" in recipe
