"""A run that is killed, interrupted or loses its reader: no process outlives it, the previous report
stays whole, and no staging folder stays behind (the next run removes a killed run's)."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


def _ctrl_c_as_at_a_terminal() -> None:
    # A shell's background job ignores SIGINT, and a child inherits that; the run under test must see Ctrl-C
    # as a user at a terminal does, however the tests themselves were started.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def study_process(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "study.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_at_a_terminal, **kwargs)


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def previous_report(small_study_path, tmp_path_factory):
    """A folder holding a finished report, to be replaced by the runs below."""
    parent = tmp_path_factory.mktemp("faults")
    done = subprocess.run([sys.executable, "-m", "study.cli", "run", "--data", str(small_study_path),
                           "--out", str(parent / "latest"), "--only", "01"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return parent / "latest"


def kernels_started(runner: subprocess.Popen, timeout: float = 120) -> list[psutil.Process]:
    """Wait until the run's kernels are up; return every process of the run but the runner."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = psutil.Process(runner.pid).children(recursive=True)
        if any(_is_kernel(p) for p in tree):
            return tree
        assert runner.poll() is None, runner.communicate()
        time.sleep(0.1)
    raise AssertionError("no kernel started")


def _is_kernel(process: psutil.Process) -> bool:
    """A plain kernel, or one forked by the kernel pool (whose command line it keeps)."""
    command = " ".join(_cmdline(process))
    try:
        return "ipykernel" in command or ("kernel_pool" in command and _cmdline(process.parent()) == _cmdline(process))
    except psutil.Error:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_kill_9_of_the_runner_takes_every_process_of_the_run_with_it(small_study_path, previous_report):
    before = digests(previous_report)
    runner = study_process("run", "--data", str(small_study_path), "--out", str(previous_report), "--only", "02,03")
    tree = kernels_started(runner)
    runner.kill()
    runner.wait()
    deadline = time.monotonic() + 5
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(tree), [" ".join(_cmdline(p))[:80] for p in alive(tree)]
    assert digests(previous_report) == before
    assert any(name.startswith(".latest.partial-") for name in leftovers(previous_report.parent))

    after = subprocess.run([sys.executable, "-m", "study.cli", "run", "--data", str(small_study_path),
                            "--out", str(previous_report), "--only", "01"], capture_output=True, text=True)
    assert after.returncode == 0, after.stderr
    assert leftovers(previous_report.parent) == []


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_ends_its_processes_and_removes_its_staging(small_study_path, previous_report, signal_number):
    before = digests(previous_report)
    runner = study_process("run", "--data", str(small_study_path), "--out", str(previous_report), "--only", "02")
    tree = kernels_started(runner)
    runner.send_signal(signal_number)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130 and err.strip().splitlines()[-1] == "study: interrupted", err
    assert "Traceback" not in err
    time.sleep(0.5)
    assert not alive(tree)
    assert digests(previous_report) == before
    assert leftovers(previous_report.parent) == []


def test_a_reader_that_goes_away_does_not_lose_the_run(small_study_path, tmp_path):
    """``study run ... | head -1``: the first line is read, the pipe closes, the run still finishes."""
    out = tmp_path / "report"
    runner = study_process("run", "--data", str(small_study_path), "--out", str(out), "--only", "01")
    first = runner.stdout.readline()
    runner.stdout.close()
    runner.wait(timeout=300)
    err = runner.stderr.read()
    assert first.startswith("study: 1 of 1 analyses")
    assert runner.returncode == 0, err
    assert "BrokenPipeError" not in err and "Traceback" not in err
    assert (out / "index.html").is_file() and (out / "run.json").is_file()


def test_the_kernel_pool_ends_with_the_run_however_the_run_returns(small_study_path, tmp_path, monkeypatch):
    """A run on small data starts its kernel pool before the notebooks are known; however the run's body
    returns, the pool (a process importing the whole scientific stack) must not outlive the run."""
    from study.report import runner

    monkeypatch.setattr(runner, "_run_staged", lambda staging, *args, **kwargs: runner.RunSummary(tmp_path, [], 0.0))
    runner.run_study(small_study_path, tmp_path / "out", only=["01"], progress=lambda line: None)
    pools = [p for p in psutil.Process().children(recursive=True) if "kernel_pool" in " ".join(_cmdline(p))]
    assert pools == []


def test_a_run_refused_by_its_checks_leaves_no_pool_and_no_pool_log(small_study_path, tmp_path, monkeypatch):
    """The kernel pool starts before the parameters are checked, its log in a file of its own: a refused run
    must end the pool and remove that file, and write nothing where the report would have gone."""
    import tempfile

    from study.report import runner

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(ValueError, match="unknown parameter"):
        runner.run_study(small_study_path, tmp_path / "out", params={"no_such_parameter": 1}, progress=lambda line: None)
    pools = [p for p in psutil.Process().children(recursive=True) if "kernel_pool" in " ".join(_cmdline(p))]
    assert pools == []
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "out").exists()


def test_a_runner_killed_outright_leaves_no_pool_log_behind(tmp_path):
    """SIGKILL runs no cleanup: the early pool's log must never have had a name in the temp folder."""
    (tmp_path / "tmp").mkdir()
    code = ("import tempfile, time; tempfile.tempdir = %r; from study.report import kernel_provisioner as k; "
            "pool = k.start_early_pool(); print(pool.process.pid, flush=True); time.sleep(60)" % str(tmp_path / "tmp"))
    runner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pool = psutil.Process(int(runner.stdout.readline()))
    assert list((tmp_path / "tmp").iterdir()) == []  # while the pool runs
    runner.kill()
    runner.wait()
    pool.wait(30)  # the pool follows its parent
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_pool_log_of_an_early_pool_is_kept_in_the_report_when_it_holds_anything(small_study_path, tmp_path,
                                                                                      monkeypatch):
    import tempfile

    from study.report import runner

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    real = runner.execute_all

    def noisy(todo, registered, kernels, *args):
        kernels.unnamed_log.write(b"what the pool printed\n")
        kernels.unnamed_log.flush()
        return real(todo, registered, kernels, *args)

    monkeypatch.setattr(runner, "execute_all", noisy)
    runner.run_study(small_study_path, tmp_path / "out", only=["01"], progress=lambda line: None)
    assert (tmp_path / "out" / "logs" / runner.POOL_LOG).read_text() == "what the pool printed\n"
    # multiprocessing's folder for the workers' server socket stays while this process lives (a run from the
    # command line removes it at its end); the pool's log is nowhere.
    assert [p.name for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("pymp-")] == []
