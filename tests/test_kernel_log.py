"""Kernel logs drop ipykernel's start-up warning about TCP without encryption, and only that."""

import pytest

from study.report import kernel_log

WARNING = (b"[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication "
           b"(including code and outputs) is sent in plain text and is susceptible to eavesdropping. Use IPC "
           b"transport or launch with kernel manager-provisioned CurveZMQ keys to enable transport encryption.\n")


def test_the_tcp_warning_alone_leaves_an_empty_log():
    assert kernel_log.quiet(WARNING) == b""


def test_every_other_line_is_kept_in_order():
    others = [b"[IPKernelApp] ERROR | Exception in message handler:\n", b"Traceback (most recent call last):\n",
              b"  quoted: Kernel is running over TCP without encryption. x\n",
              b"[IPKernelApp] WARNING | Kernel is running over TCP\n", b"\xff not utf-8\n", b"no newline at the end"]
    text = others[0] + WARNING + b"".join(others[1:4]) + WARNING + b"".join(others[4:])
    assert kernel_log.quiet(text) == b"".join(others)


def test_clean_rewrites_the_file_and_leaves_a_missing_one_missing(tmp_path):
    log = tmp_path / "01_data_overview.log"
    log.write_bytes(WARNING + b"kernel died\n")
    kernel_log.clean(log)
    assert log.read_bytes() == b"kernel died\n"
    kernel_log.clean(tmp_path / "absent.log")
    assert not (tmp_path / "absent.log").exists()


def test_a_kernel_that_died_while_starting_is_started_again_and_other_errors_are_not(capsys):
    from study.report.kernel_log import start_again_if_the_kernel_died

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "ran"

    assert start_again_if_the_kernel_died(flaky) == "ran" and len(calls) == 3
    assert capsys.readouterr().err.count("starting it again") == 2

    def always_dies():
        raise RuntimeError("Kernel died before replying to kernel_info")

    with pytest.raises(RuntimeError, match="kernel_info"):
        start_again_if_the_kernel_died(always_dies, attempts=2)

    def fails_in_a_cell():
        calls.append(1)
        raise RuntimeError("a cell failed")

    calls.clear()
    with pytest.raises(RuntimeError, match="a cell failed"):
        start_again_if_the_kernel_died(fails_in_a_cell)
    assert len(calls) == 1  # a notebook that ran is never run twice
