"""Nothing a user owns is ever deleted or overwritten: where `study run` may write, which parameters it
takes, and `study simulate`'s output.

Every case runs the command in a scratch folder of user files, hashes every file before and after,
and asserts its exact outcome: a one-line error with exit 2 naming the problem, or a report written
where it should be. Refusals come before any data is read, so these cases cost no notebook.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from study import cli, config
from study.data import simulate
from study.report import runner, safe_output

SAMPLE = simulate.simulate(rows=200, seed=3)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) with the SHA-256 of its bytes."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in [*files, *(d for d in dirs if (Path(root) / d).is_symlink())]:
            path = Path(root) / name
            key = path.relative_to(folder).as_posix()
            found[key] = "link:" + os.readlink(path) if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A user's folder: their data, a column map, notes and a sub-folder of work; we run from inside it."""
    home = tmp_path / "home"
    project = home / "code" / "project"
    (project / "data").mkdir(parents=True)
    (project / "work").mkdir()
    simulate.write(SAMPLE, project / "data" / "tickets.csv")
    (project / "data" / "map.yml").write_text("tickets: {columns: {}}\n")
    (project / "notes.txt").write_text("my notes")
    (project / "work" / "analysis.ipynb").write_text("{}")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    return project


def fake_report(folder: Path, extra: dict[str, str] | None = None) -> Path:
    """A folder holding what an earlier run of ours wrote (run.json lists the files)."""
    (folder / "results").mkdir(parents=True)
    (folder / "index.html").write_text("earlier report")
    (folder / "results" / "01_data_overview.json").write_text("{}")
    files = ["index.html", "results/01_data_overview.json", "run.json"]
    (folder / "run.json").write_text(json.dumps({safe_output.REPORT_MARK: {"files": files}}))
    for name, text in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def touch(path: Path, text: str = "{}") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run(*arguments: str) -> list[str]:
    return ["run", "--data", "data/tickets.csv", *arguments]


# (case id, set-up(scratch) -> arguments of `study`, words the one line must hold)
REFUSED = [
    ("out holds user files", lambda p: run("--out", "work"), "not a study report"),
    ("out is the current folder", lambda p: run("--out", "."), "is the current folder"),
    ("out is the parent of the current folder", lambda p: run("--out", ".."), "holds the current folder"),
    ("out is the data's folder", lambda p: run("--out", "data"), "holds the input tickets.csv"),
    ("out is the column map's folder", lambda p: [*run("--out", str(p / "data"), "--columns", "data/map.yml")], "holds the input"),
    ("out is an existing file", lambda p: run("--out", "notes.txt"), "is a file; reports go in a folder"),
    ("out is under a file", lambda p: run("--out", "notes.txt/report"), "notes.txt is a file, not a folder"),
    ("out is the home folder", lambda p: run("--out", str(p.parents[1])), "is your home folder"),
    ("out is the filesystem root", lambda p: run("--out", "/"), "is a filesystem root"),
    ("out is the project's data folder", lambda p: run("--out", str(config.DATA)), "never replaced"),
    ("out is an earlier report with the user's notes in it",
     lambda p: (fake_report(p / "old", {"notes.md": "mine"}), run("--out", "old"))[1], "files the study did not write (notes.md)"),
    ("out is an earlier report with a JupyterLab checkpoint",
     lambda p: (fake_report(p / "old", {".ipynb_checkpoints/x.ipynb": "{}"}), run("--out", "old"))[1], "did not write (.ipynb_checkpoints/x.ipynb)"),
    ("out is an earlier report with a folder the user made in it",
     lambda p: (fake_report(p / "old"), (p / "old" / "drafts").mkdir(), run("--out", "old"))[2], "did not write (drafts/)"),
    ("pdf not a choice", lambda p: run("--out", "new", "--pdf", "maybe"), "--pdf must be one of auto, yes, no"),
    ("out holds someone else's run.json",
     lambda p: (touch(p / "other" / "run.json", '{"x": 1}'), run("--out", "other"))[1], "not a study report"),
    ("out is a symbolic link to the user's work",
     lambda p: ((p / "link").symlink_to(p / "work"), run("--out", "link"))[1], "is a symbolic link"),
    ("out in a place nobody may write", lambda p: run("--out", "/proc/study-report"), "cannot write in /proc"),
    ("query on a CSV file", lambda p: run("--out", "new", "--query", "select 1"), "--query reads a DuckDB file"),
    ("control arm not in the experiment table",
     lambda p: (touch(p / "exp.csv", "user_id,group,converted\nu1,a,0\nu2,b,1\nu3,a,1\n"),
                touch(p / "exp.yml", "experiment: {unit: user_id, arm: group, control: ctrl, metrics: [converted]}"),
                ["run", "--data", "exp.csv", "--columns", "exp.yml", "--out", "new"])[-1],
     "control arm 'ctrl' is not in column 'group' (arms: 'a', 'b')"),
    ("jobs zero", lambda p: run("--out", "new", "--jobs", "0"), "--jobs must be a whole number of at least 1"),
    # Parameters: typed and checked before anything runs.
    ("alpha zero", lambda p: run("--out", "new", "--param", "alpha=0"), "parameter 'alpha' must be a number in (0, 0.5]"),
    ("alpha above one half", lambda p: run("--out", "new", "--param", "alpha=0.7"), "got '0.7'"),
    ("alpha as words", lambda p: run("--out", "new", "--param", "alpha=five percent"), "parameter 'alpha' must be"),
    ("alpha not a number", lambda p: run("--out", "new", "--param", "alpha=nan"), "parameter 'alpha' must be"),
    ("alpha a YAML date", lambda p: run("--out", "new", "--param", "alpha=2026-01-01"), "got '2026-01-01'"),
    ("alpha given twice", lambda p: run("--out", "new", "--param", "alpha=0.1", "--param", "alpha=0.2"), "given twice"),
    ("srm alpha infinite", lambda p: ["run", "--data", "data/tickets.csv", "--only", "04", "--out", "new", "--param", "srm_alpha=inf"], "parameter 'srm_alpha' must be"),
    ("model tickets negative", lambda p: run("--out", "new", "--param", "model_tickets=-1"), "parameter 'model_tickets' must be 0"),
    ("model tickets fractional", lambda p: run("--out", "new", "--param", "model_tickets=1.5"), "got '1.5'"),
    ("model tickets too few", lambda p: run("--out", "new", "--param", "model_tickets=500"), "at least 1,000"),
    ("treatment share one", lambda p: run("--out", "new", "--param", "treatment_share=1"), "a share in (0, 1)"),
    ("treatment share negative", lambda p: run("--out", "new", "--param", "treatment_share=-0.2"), "a share in (0, 1)"),
    ("relative mde zero", lambda p: run("--out", "new", "--param", "relative_mde=0"), "parameter 'relative_mde' must be"),
    ("bootstrap too few", lambda p: run("--out", "new", "--param", "bootstrap=5"), "from 10 to 1,000,000"),
    ("replicates as text", lambda p: run("--out", "new", "--param", "replicates=many"), "parameter 'replicates' must be"),
    ("seed negative", lambda p: run("--out", "new", "--param", "seed=-1"), "parameter 'seed' must be"),
    ("seed with a YAML tag", lambda p: run("--out", "new", "--param", "seed=!!python/object/apply:os.system [ls]"), "parameter 'seed' must be"),
    ("segments an empty name", lambda p: run("--out", "new", "--param", "segments=loyalty_tier,,x"), "comma-separated list of names"),
    ("runner parameter", lambda p: run("--out", "new", "--param", "results_dir=/etc"), "unknown parameter 'results_dir'"),
    # study simulate never overwrites what it did not write.
    ("simulate over the user's file", lambda p: (touch(p / "notes.csv"), ["simulate", "--rows", "20", "--out", "notes.csv"])[1],
     "notes.csv: exists and is not an earlier simulation"),
    ("simulate beside another simulation's truth", lambda p: ["simulate", "--rows", "20", "--out", "data/other.csv"],
     "holds the truth of tickets.csv"),
    ("simulate beside a user's truth.json", lambda p: (touch(p / "work" / "truth.json"), ["simulate", "--rows", "20", "--out", "work/t.csv"])[1],
     "truth.json: exists and is not a simulation's truth"),
]


def test_there_are_enough_refusal_cases():
    assert len(REFUSED) >= 35


@pytest.mark.parametrize("setup, words", [(s, w) for _, s, w in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_dangerous_output_or_parameter_is_one_line_and_changes_nothing(scratch, capsys, setup, words):
    arguments = setup(scratch)
    before = snapshot(scratch)
    status = cli.main(arguments)
    out, err = capsys.readouterr()
    assert status == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("study: error:"), err
    assert words in lines[0], lines[0]
    assert snapshot(scratch) == before
    assert not [p for p in scratch.parents[1].rglob(".*") if "partial-" in p.name]


def test_an_empty_folder_a_new_folder_and_an_earlier_report_are_written(scratch, monkeypatch):
    def fake_run(staging, *args, **kwargs):
        (staging / "index.html").write_text("new report")
        safe_output_files = [f for f in safe_output.files_of(staging) if f != safe_output.STAGING_MARK]
        (staging / "run.json").write_text(json.dumps({safe_output.REPORT_MARK: {"files": [*safe_output_files, "run.json"]}}))
        out = args[1]
        safe_output.replace(staging, out)
        return runner.RunSummary(out, [], 0.0)

    monkeypatch.setattr(runner, "_run_staged", fake_run)
    (scratch / "empty").mkdir()
    fake_report(scratch / "old")
    before = {k: v for k, v in snapshot(scratch).items() if not k.startswith("old/")}
    for out in ("empty", "new/deeper/report", "old"):
        assert cli.main(run("--out", out)) == 0
        assert (scratch / out / "index.html").read_text() == "new report"
    assert {k: v for k, v in snapshot(scratch).items() if k.split("/")[0] not in ("old", "empty", "new")} == before
    assert not [p for p in scratch.rglob(".*") if "partial" in p.name or ".old-" in p.name]


def test_a_report_written_before_run_json_listed_its_files_is_recognised(tmp_path):
    legacy = tmp_path / "latest"
    (legacy / "results").mkdir(parents=True)
    (legacy / "index.html").write_text("x")
    (legacy / "results" / "02_satisfaction_drivers.json").write_text("{}")
    (legacy / "run.json").write_text(json.dumps({"facts": {"data fingerprint (SHA-256)": "0" * 16}}))
    assert safe_output.check_out_dir(legacy) == legacy
    (legacy / "thesis.docx").write_text("mine")
    with pytest.raises(safe_output.OutputError, match="not a study report"):
        safe_output.check_out_dir(legacy)


def test_stale_staging_is_removed_only_when_it_is_provably_ours(tmp_path):
    out = tmp_path / "latest"
    dead = tmp_path / ".latest.partial-dead"
    dead.mkdir()
    (dead / safe_output.STAGING_MARK).write_text("999999999")  # no such process
    alive = tmp_path / ".latest.partial-alive"
    alive.mkdir()
    (alive / safe_output.STAGING_MARK).write_text(str(os.getppid()))
    users = tmp_path / ".latest.partial-mine"
    users.mkdir()
    (users / "thesis.txt").write_text("not ours: no marker")
    assert safe_output.remove_stale_staging(out) == [dead]
    assert alive.is_dir() and (users / "thesis.txt").read_text() == "not ours: no marker"


def test_a_file_that_appears_in_the_report_during_the_run_stops_the_swap(tmp_path):
    out = fake_report(tmp_path / "latest")
    staging = safe_output.new_staging(out)
    (out / "draft.md").write_text("written while the run went on")
    with pytest.raises(safe_output.OutputError, match="appeared there during the run"):
        safe_output.replace(staging, out)
    assert (out / "draft.md").read_text() == "written while the run went on"


# Property: for random trees of user files, earlier reports (some with user files added) and random
# --out choices, no file outside a proven report is ever removed or changed, and a run either writes
# its report at --out or refuses with exit 2.
NAMES = st.sampled_from(["a", "b", "data", "report", "latest", "notes.txt", "x.csv", ".hidden"])
TREES = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), st.binary(max_size=8)), max_size=8)


def _plant(root: Path, tree) -> None:
    for parts, content in tree:
        path = root.joinpath(*parts)
        if any(parent.is_file() for parent in [path, *path.parents] if parent != path and root in parent.parents):
            continue
        if path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tree=TREES, reports=st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=2), st.booleans()), min_size=1, max_size=3),
       data_parts=st.lists(NAMES, min_size=0, max_size=2), choice=st.data())
def test_no_user_file_outside_a_proven_report_is_ever_touched(tmp_path_factory, tree, reports, data_parts, choice):
    root = tmp_path_factory.mktemp("tree")
    _plant(root, tree)
    proven = []
    for parts, with_stray in reports:
        folder = root.joinpath(*parts)
        if folder.exists() or any(p.is_file() for p in folder.parents if root in p.parents):
            continue
        fake_report(folder, {"stray.txt": "user's"} if with_stray else None)
        if not with_stray:
            proven.append(folder.relative_to(root).as_posix())
    data_folder = root.joinpath(*data_parts)
    if any(p.is_file() for p in [data_folder, *data_folder.parents] if root in p.parents or p == data_folder):
        data_folder = root
    data_folder.mkdir(parents=True, exist_ok=True)
    data = data_folder / "input.csv"
    if not data.exists():
        data.write_text("ticket_id\n1\n")
    before = snapshot(root)

    def fake_run(staging, data_path, out, *args, **kwargs):
        (staging / "index.html").write_text("new")
        (staging / "run.json").write_text(json.dumps({safe_output.REPORT_MARK: {"files": ["index.html", "run.json"]}}))
        safe_output.replace(staging, out)
        return runner.RunSummary(out, [], 0.0)

    # --out: anything in the tree (folders, files, reports, the data's folder, the root) or a new path.
    existing = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    picked = choice.draw(st.one_of(st.sampled_from([".", *existing]), st.sampled_from(proven or ["."]),
                                   st.lists(NAMES, min_size=1, max_size=3).map("/".join)))
    out = root / picked if picked != "." else root
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with mock.patch.object(runner, "_run_staged", fake_run), mock.patch.object(runner, "split_parameters", lambda *a: {}):
            status = cli.main(["run", "--data", str(data), "--out", str(out)])
    finally:
        os.chdir(cwd)
    after = snapshot(root)
    event(f"exit {status}" + (" over an earlier report" if status == 0 and out.relative_to(root).as_posix() in proven else ""))
    replaced = out.relative_to(root).as_posix() if status == 0 else None
    if status == 0:
        assert (out / "index.html").read_text() == "new"
    else:
        assert status == 2
    for name, digest in before.items():
        inside_replaced = replaced is not None and replaced != "." and (name + "/").startswith(replaced + "/")
        if inside_replaced:
            continue  # checked below: it must have been inside a proven report
        assert after.get(name) == digest, f"{name} changed or vanished (--out {replaced})"
    if replaced is not None and replaced != ".":
        lost = [n for n in before if (n + "/").startswith(replaced + "/")]
        assert all(any((n + "/").startswith(p + "/") for p in proven) for n in lost), lost
    assert not [p for p in root.rglob(".*") if "partial-" in p.name or ".old-" in p.name]
