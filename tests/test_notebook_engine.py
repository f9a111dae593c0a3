"""The run's papermill engine writes the executed notebook at the end, not at every cell, and still leaves a
notebook behind when the kernel dies; its kernel client knows a kernel is ready without waiting for silence."""

from __future__ import annotations

import asyncio

import nbformat
import papermill
import pytest
import zmq
from papermill import iorw

from study.report import kernel_provisioner, notebook_engine, ready_client
from study.report.ready_client import ReadyKernelClient


def _notebook(path, *sources: str):
    nbformat.write(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in sources],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def _execute(notebook, executed, monkeypatch) -> list[str]:
    writes = []
    real = iorw.write_ipynb

    def counted(nb, path):
        writes.append(path)
        return real(nb, path)

    # papermill's modules bound write_ipynb when imported: count the writes where it is called from.
    for module in ("papermill.engines", "papermill.execute"):
        monkeypatch.setattr(f"{module}.write_ipynb", counted)
    papermill.execute_notebook(str(notebook), str(executed), progress_bar=False, engine_name=notebook_engine.NAME,
                               kernel_manager_class=kernel_provisioner.manager_class("", "none in this test"))
    return writes


def test_the_executed_notebook_is_written_at_the_end_with_every_output(tmp_path, monkeypatch) -> None:
    cells = [f"print({i} * 7)" for i in range(12)]
    executed = tmp_path / "executed.ipynb"
    writes = _execute(_notebook(tmp_path / "in.ipynb", *cells), executed, monkeypatch)
    # papermill's own engine writes twice a cell (25 here); this engine once at the end, then papermill's final write.
    assert len(writes) <= 2
    outputs = [cell.outputs[0]["text"].strip() for cell in nbformat.read(executed, as_version=4).cells]
    assert outputs == [str(i * 7) for i in range(12)]


def test_a_kernel_that_dies_still_leaves_the_cells_it_ran(tmp_path, monkeypatch) -> None:
    executed = tmp_path / "executed.ipynb"
    notebook = _notebook(tmp_path / "in.ipynb", "print('first')", "import os; os._exit(1)", "print('never')")
    with pytest.raises(Exception):  # noqa: B017 - nbclient's DeadKernelError or papermill's, by version
        _execute(notebook, executed, monkeypatch)
    cells = nbformat.read(executed, as_version=4).cells
    assert cells[0].outputs[0]["text"].strip() == "first" and not cells[2].outputs


def test_the_ready_client_answers_when_the_kernel_does_and_knows_a_dead_one(tmp_path) -> None:
    manager = kernel_provisioner.manager_class("", "none in this test")(kernel_name="python3")

    async def start_and_ask():
        await manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        assert isinstance(client, ReadyKernelClient)
        client.start_channels()
        try:
            sockets = [client.shell_channel.socket, client.iopub_channel.socket, client.control_channel.socket]
            assert [s.getsockopt(zmq.RECONNECT_IVL) for s in sockets] == [ready_client.RECONNECT_MS] * 3
            await client.wait_for_ready(timeout=120)
            reply = await client.execute_interactive("40 + 2", timeout=30)
            assert reply["content"]["status"] == "ok"
            await manager.shutdown_kernel(now=True)
            # Worded as jupyter_client's: study.report.kernel_log starts a kernel again on these words.
            with pytest.raises(RuntimeError, match="Kernel died before replying to kernel_info"):
                await client.wait_for_ready(timeout=5)
        finally:
            client.stop_channels()

    asyncio.run(start_and_ask())


def test_the_exporters_warm_up_leaves_the_pages_it_writes_as_they_were(tmp_path) -> None:
    from study.report import export

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A report\n\n## Findings\n\nA *finding* with a [link](#findings)."),
        nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><td>2.5</td></tr></table>", "text/plain": "2.5"})]),
    ])
    executed = tmp_path / "executed.ipynb"
    nbformat.write(notebook, executed)
    before = export.export_html(executed, tmp_path / "before.html").read_text(encoding="utf-8")
    export.warm_up.__wrapped__()  # the warm-up itself, even if this process has warmed up already
    after = export.export_html(executed, tmp_path / "after.html").read_text(encoding="utf-8")
    assert after == before and "A report" in after


def test_the_ready_client_gives_up_on_a_silent_kernel_in_jupyter_clients_words(monkeypatch) -> None:
    """A kernel alive but answering nothing: the error study.report.kernel_log reads as 'never answered'."""
    from queue import Empty

    from study.report import kernel_log

    class Silent:
        async def get_msg(self, timeout=None):
            await asyncio.sleep(min(timeout or 0, 0.01))
            raise Empty

    monkeypatch.setattr(ready_client, "REPLY_SECONDS", 0.05)
    client = ReadyKernelClient()
    monkeypatch.setattr(ReadyKernelClient, "shell_channel", Silent())
    monkeypatch.setattr(ReadyKernelClient, "iopub_channel", Silent())
    monkeypatch.setattr(client, "kernel_info", lambda: "request-1")

    async def alive():
        return True

    monkeypatch.setattr(client, "is_alive", alive)
    with pytest.raises(RuntimeError) as raised:
        asyncio.run(client.wait_for_ready(timeout=0.2))
    assert kernel_log.never_answered(raised.value)
