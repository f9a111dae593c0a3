"""A notebook's own default files are found from any folder; a file the user names never is swapped."""

import subprocess
import sys

import nbformat
import papermill

from study import config
from study.data import io
from study.report import truth


def test_the_defaults_found_from_the_project_are_exactly_the_notebooks_defaults():
    named = {info["default"].strip("\"'") for notebook in sorted(config.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
             for info in papermill.inspect_notebook(str(notebook)).values()
             if info["default"].startswith(("\"../", "'../"))}
    assert named == config.NOTEBOOK_DEFAULTS
    assert all((config.NOTEBOOKS / path).resolve().is_file() for path in named)


def test_a_default_missing_from_here_is_the_projects_file_with_a_note(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "_noted", set())
    assert config.input_path("../data/rollout/tickets.parquet") == config.DATA / "rollout" / "tickets.parquet"
    assert config.input_path("../data/rollout/tickets.parquet") == config.DATA / "rollout" / "tickets.parquet"
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and "../data/rollout/tickets.parquet" in note and "data/rollout/tickets.parquet" in note


def test_a_path_the_user_names_is_returned_as_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tickets.parquet").write_bytes(b"theirs")
    monkeypatch.chdir(tmp_path / "data")
    # The default's text, but a file of that name exists from here: that one is read.
    assert config.input_path("../data/tickets.parquet") == "../data/tickets.parquet"
    for theirs in ("tickets.parquet", "../tickets.parquet", "data/tickets.parquet", str(tmp_path / "x.csv")):
        assert config.input_path(theirs) == theirs
    assert capsys.readouterr().err == ""


def test_the_truth_beside_a_default_is_found_from_another_folder(tmp_path, monkeypatch):
    _, source = io.load(config.SAMPLE_DATA)
    monkeypatch.chdir(tmp_path)
    assert truth.for_data("../data/tickets.parquet", source) == truth.for_data(config.SAMPLE_DATA, source) is not None


def test_papermill_runs_a_notebook_from_the_project_root_on_its_defaults(tmp_path):
    out = tmp_path / "out.ipynb"
    ran = subprocess.run([sys.executable, "-m", "papermill", "--no-progress-bar",
                          "notebooks/01_data_overview.ipynb", str(out)],
                         cwd=config.ROOT, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    notebook = nbformat.read(out, as_version=4)
    assert not notebook.metadata.papermill.get("exception")
    stderr = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "reading the project's data/tickets.parquet" in stderr
