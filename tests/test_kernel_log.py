"""Kernel logs drop ipykernel's start-up warning about TCP without encryption, and only that."""

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
