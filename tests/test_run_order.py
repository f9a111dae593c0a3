"""In what order a run starts its notebooks, and what it starts before anything else."""

import subprocess
import sys

import pytest

from study import analyses
from study.analyses import ANALYSES, FEW_TICKETS, start_order

TICKET_ANALYSES = [a for a in ANALYSES if a.kind != "experiment"]  # an experiment table runs alone


def names(order):
    return [a.name.split("_")[0] for a in order]


def _fresh(script: str, **environment: str) -> list[str]:
    """What ``script`` prints, word by word, run by a fresh Python (with ``environment`` added to this one's)."""
    import os

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **environment})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_on_few_tickets_the_fits_start_first_and_on_many_the_customer_aggregation_starts_early():
    few = names(start_order(TICKET_ANALYSES, FEW_TICKETS))
    many = names(start_order(TICKET_ANALYSES, FEW_TICKETS + 1))
    assert few[:4] == ["02", "03", "09", "01"]  # the model fits, then the overview's figures
    assert few.index("04") > few.index("10") and few.index("06") > few.index("04")
    # 04's scan third, after the two longest fits, then 09's
    assert many[:4] == ["02", "03", "04", "09"] and many[-1] == "01"
    assert sorted(few) == sorted(many) == sorted(names(TICKET_ANALYSES))


def test_each_order_ranks_every_ticket_analysis_apart():
    assert len({a.start for a in TICKET_ANALYSES}) == len({a.start_few for a in TICKET_ANALYSES}) == len(TICKET_ANALYSES)


def test_the_order_keeps_only_the_analyses_asked_for():
    chosen = analyses.select(["04", "01"])
    assert names(start_order(chosen, 3_000)) == ["01", "04"]
    assert names(start_order(chosen, 10_000_000)) == ["04", "01"]


@pytest.mark.parametrize("few_tickets, expected", [(FEW_TICKETS, ["01", "04"]), (0, ["04", "01"])])
def test_a_run_starts_its_notebooks_in_the_order_for_its_number_of_tickets(small_study_path, tmp_path, monkeypatch,
                                                                          few_tickets, expected):
    from study.report import runner

    monkeypatch.setattr(analyses, "FEW_TICKETS", few_tickets)
    lines = []
    # One notebook at a time: each ends before the next starts, so the order they end in is the order they started in.
    summary = runner.run_study(small_study_path, tmp_path / "out", only=["04", "01"], jobs=1, progress=lines.append)
    assert [r.status for r in summary.runs] == ["ok", "ok"]
    ended = [line.split("] ")[1][:2] for line in lines if line.lstrip().startswith("[")]
    assert ended == expected


def test_the_command_starts_the_kernel_pool_before_it_imports_the_runner(small_study_path, tmp_path):
    # The pool's imports take two seconds and every notebook waits for them; the runner's own take 0.4 s.
    script = (
        "import sys\n"
        "from study import cli\n"
        "from study.report import kernel_provisioner\n"
        "print('pandas' in sys.modules, flush=True)\n"
        "def asked(path):\n"
        "    print('study.report.runner' in sys.modules, path.name, flush=True)\n"
        "    raise KeyboardInterrupt\n"
        "kernel_provisioner.early_pool = asked\n"
        f"sys.exit(cli.main(['run', '--data', {str(small_study_path)!r}, '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    assert done.stdout.split() == ["False", "False", small_study_path.name]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread is Linux's")
def test_work_done_ahead_runs_at_a_lower_priority_and_leaves_the_process_as_it_was():
    import os
    import threading

    from study.report import execute

    before = os.getpriority(os.PRIO_PROCESS, 0)
    seen = []
    execute.in_background(lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())),
                          niceness=execute.SPARE_TIME).join()
    assert seen == [min(before + execute.SPARE_TIME, 19)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_the_index_warm_up_leaves_nothing_behind_and_writes_no_file(tmp_path, monkeypatch):
    from study.report import run_outputs

    monkeypatch.chdir(tmp_path)
    run_outputs.warm_up()
    assert not list(tmp_path.iterdir())


def test_the_index_warm_up_compiles_the_index_page_and_imports_the_verdicts_scipy_once():
    # In a fresh process: this one has scipy and a compiled template already.
    script = (
        "import sys\n"
        "from study.report import index, run_outputs\n"
        "before = 'scipy.special' in sys.modules, index._templates.cache_info().currsize\n"
        "run_outputs.warm_up()\n"
        "print(*before, 'scipy.special' in sys.modules, index._templates.cache_info().currsize)\n"
    )
    assert _fresh(script) == ["False", "0", "True", "1"]


def test_the_index_page_is_what_write_index_writes(tmp_path):
    from study.report import index

    runs = [index.AnalysisRun("01_data_overview", "Overview", "ok", findings_markdown="**40,000** tickets & more")]
    written = index.write_index(tmp_path / "index.html", runs, {"data file": "t.csv"}).read_text(encoding="utf-8")
    assert written == index.index_page(tmp_path, runs, {"data file": "t.csv"})
    assert "<strong>40,000</strong> tickets &amp; more" in written


@pytest.mark.parametrize("status", [0, 3])
def test_the_console_script_ends_as_sys_exit_would_without_the_teardown(status):
    # Threads joined, atexit handlers run, buffered output flushed, the status passed on; the interpreter's
    # teardown skipped (a __del__ of a module-level object would print during it).
    script = (
        "import atexit, sys, threading, time\n"
        "from study import cli\n"
        "class Torn:\n"
        "    def __del__(self): print('torn down', flush=True)\n"
        "kept = Torn()\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "def late(): time.sleep(0.3); print('thread finished')\n"
        f"cli.main = lambda: (threading.Thread(target=late).start(), print('x' * 100000, end=''))[0] or {status}\n"
        "cli.command()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert done.stdout.startswith("x" * 100000)
    assert done.stdout[100000:].split("\n")[:2] == ["thread finished", "atexit ran"]
    assert "torn down" not in done.stdout


def _worker_facts():
    import os

    return os.getppid(), os.environ.get("STUDY_PROBE"), "papermill" in sys.modules, "nbconvert" in sys.modules


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked from a server where the OS forks")
def test_workers_are_forked_from_a_loaded_server_and_have_the_runners_environment_of_now(monkeypatch):
    import os
    from concurrent.futures import ProcessPoolExecutor

    from study.report import execute

    execute.start_worker_server()  # its environment is this one, without the probe
    monkeypatch.setenv("STUDY_PROBE", "as the runner has it now")
    with ProcessPoolExecutor(1, mp_context=execute.worker_context(), initializer=execute.worker_start,
                             initargs=(os.getpid(), dict(os.environ))) as workers:
        parent, probe, papermill_loaded, nbconvert_loaded = workers.submit(_worker_facts).result(timeout=120)
    assert probe == "as the runner has it now"
    assert parent != os.getpid() and papermill_loaded and nbconvert_loaded


def test_without_a_worker_server_the_workers_are_spawned(tmp_path):
    # The server's socket is named in the temp folder: a long temp path cannot name a socket.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    script = "from study.report import execute\nprint(execute.worker_context().get_start_method())\n"
    assert _fresh(script, TMPDIR=str(deep)) == ["spawn"]
    assert _fresh(script) == ["forkserver" if sys.platform.startswith("linux") else "spawn"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the tracker's standard error is read from /proc")
def test_the_resource_tracker_the_worker_server_needs_writes_nothing_on_the_terminal():
    script = (
        "import os, sys, psutil\n"
        "from study.report import execute\n"
        "execute.start_worker_server()\n"
        "tracker = [p for p in psutil.Process().children() if 'resource_tracker' in ' '.join(p.cmdline())]\n"
        "server = [p for p in psutil.Process().children() if 'forkserver' in ' '.join(p.cmdline())]\n"
        "print(len(tracker), os.readlink(f'/proc/{tracker[0].pid}/fd/2'), os.readlink(f'/proc/{server[0].pid}/fd/2'),\n"
        "      os.readlink('/proc/self/fd/2'))\n"
    )
    count, tracker_err, server_err, own_err = _fresh(script)
    assert count == "1" and tracker_err == "/dev/null"
    assert server_err == own_err != "/dev/null"  # the server and the runner keep theirs


def test_while_the_model_sample_is_drawn_the_first_notebook_that_takes_none_runs_on_the_free_core(tmp_path, monkeypatch):
    import concurrent.futures
    from pathlib import Path

    from study.report import execute
    from study.report.index import AnalysisRun

    started = []

    class AtOnce:
        """A pool that records what is submitted, in order, and finishes it at once."""

        def __init__(self, **kwargs):
            pass

        def submit(self, function, notebook, *args):
            started.append(Path(notebook).stem[:2])
            future = concurrent.futures.Future()
            future.set_result(("ok", "", 0.0))
            return future

        def shutdown(self, **kwargs):
            pass

    class Pool:
        name, reason = "pool", ""

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", AtOnce)
    chosen = analyses.select(["01", "02", "03", "04", "09"])
    runs = [AnalysisRun(a.name, a.title) for a in chosen]
    during = []
    execute.execute_all(runs, {a.name: a for a in chosen}, Pool(), tmp_path, tmp_path / "t.parquet", tmp_path / "c.parquet",
                        None, {a.name: {} for a in chosen}, 2, lambda line: None, 1_000_000,
                        early=["01_data_overview", "04_ab_test"], meanwhile=lambda: during.extend(started))
    assert during == ["04"]  # the first of them in the order for a million tickets; one, for the one free core
    assert started == ["04", "02", "03", "09", "01"] and [r.status for r in runs] == ["ok"] * 5
    started.clear()
    execute.execute_all(runs, {a.name: a for a in chosen}, Pool(), tmp_path, tmp_path / "t.parquet", tmp_path / "c.parquet",
                        None, {a.name: {} for a in chosen}, 1, lambda line: None, 1_000_000,
                        early=["01_data_overview", "04_ab_test"], meanwhile=lambda: during.extend(["drawn"]))
    assert during == ["04", "drawn"] and started == ["02", "03", "04", "09", "01"]  # one worker: it waits for the draw


@pytest.mark.parametrize("model_tickets, early", [(1_000, ["04_ab_test"]), (0, [])])
def test_a_run_starts_early_only_what_takes_no_sample_and_only_when_one_is_drawn(small_study_path, tmp_path, monkeypatch,
                                                                                model_tickets, early):
    from study.report import runner

    seen = []
    real = runner.execute_all

    def watched(*args):
        seen.append(args[11])
        return real(*args)

    monkeypatch.setattr(runner, "execute_all", watched)
    lines = []
    summary = runner.run_study(small_study_path, tmp_path / "out", only=["04", "02"], progress=lines.append,
                               params={"model_tickets": model_tickets, "bootstrap": 50})
    assert [r.status for r in summary.runs] == ["ok", "ok"]
    assert seen == [early]
    assert any("model sample: " in line for line in lines) == bool(early)
