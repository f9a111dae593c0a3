"""``study compare RUN_A RUN_B``: the key estimates of two runs side by side, with their change.

Both folders must be reports written by ``study run`` (their ``run.json`` lists the files the run
wrote, :func:`study.report.safe_output.report_files`); only the results files listed there are read.
The key estimates are those the headline findings quote (``findings[].headline`` and
``findings[].estimates`` of each results file) and the primary metric of each experiment's verdict
(:data:`study.report.summary.EXPERIMENTS`); the page shows every other estimate in a collapsed
section. Two estimates *moved* when their confidence intervals do not overlap.

The page and ``compare.csv`` go into a new folder, or into one that holds an earlier comparison:
its ``run.json`` lists the files it wrote under :data:`study.report.safe_output.REPORT_MARK` (so
``check_out_dir`` proves it ours) and carries :data:`COMPARE_MARK`, which tells it from a run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from study import config
from study.report import safe_output
from study.report.compare_units import Style, separation, style_of
from study.report.results_csv import csv_text, text_cell, write_csv_atomic
from study.report.sentences import estimates_by_name, finite, usable

COMPARE_MARK = "study compare"  # key of a comparison folder's run.json: what was compared
DEFAULT_OUT = config.ROOT / "reports" / "compare"
PAGE, TABLE = "compare.html", "compare.csv"


class CompareError(ValueError):
    """Two folders that cannot be compared; the message says which and why."""


@dataclass
class Run:
    """One report folder as the comparison reads it."""

    which: str  # "A" or "B"
    folder: Path
    facts: dict
    analyses: dict  # name -> what run.json says happened to it (status, reason, title)
    results: dict  # analysis -> results payload
    key: dict = field(default_factory=dict)  # analysis -> names of its key estimates, in reading order
    verdicts: list = field(default_factory=list)


@dataclass
class Row:
    """One estimate of the two runs, written out for the page and the CSV."""

    analysis: str
    name: str
    label: str
    key: bool
    style: Style
    a: dict | None
    b: dict | None
    change: float | None = None
    overlap: bool | None = None
    separation: float = 0.0
    notes: list = field(default_factory=list)
    whole_analysis: bool = False  # missing because one run has no results of the analysis at all

    @property
    def moved(self) -> bool:
        return self.overlap is False

    def cell(self, estimate: dict | None) -> dict:
        """Value and interval of one run, as the page shows them."""
        if estimate is None:
            return {"value": "not in this run", "interval": "", "missing": True}
        level = estimate.get("ci_level")
        interval = self.style.interval(estimate.get("ci_low"), estimate.get("ci_high"))
        if interval and finite(level) and abs(level - 0.95) > 1e-9:
            interval = f"{level:.0%} CI {interval}"
        return {"value": self.style.value(estimate.get("value")), "interval": interval, "missing": False}

    @property
    def change_text(self) -> str:
        return "" if self.change is None else self.style.change(self.change)

    @property
    def overlap_text(self) -> str:
        return {True: "yes", False: "no"}.get(self.overlap, "n/a")


def _refuse(run: str, given, why: str) -> CompareError:
    return CompareError(f"{run} {given}: {why}")


def read_run(given: str | Path, which: str) -> Run:
    """A report folder written by ``study run``, its facts and every results file it lists.

    Raises
    ------
    CompareError
        One line naming the folder (as given) and why it cannot be compared.
    """
    label = f"RUN_{which}"
    folder = Path(given)
    if not folder.is_dir():
        raise _refuse(label, given, "no such folder" if not folder.exists() else "is a file, not a report folder")
    try:
        facts = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _refuse(label, given, "not a study report (no run.json); give a folder written by study run") from None
    except (OSError, ValueError) as error:
        raise _refuse(label, given, f"run.json is not readable JSON ({error})") from None
    if isinstance(facts, dict) and COMPARE_MARK in facts:
        raise _refuse(label, given, "is a comparison written by study compare, not a run; give a folder written by study run")
    listed = safe_output.report_files(folder)
    if listed is None or not isinstance(facts.get("facts"), dict):
        raise _refuse(label, given, "not a study report (its run.json does not list a run's files); give a folder written by study run")
    results = {}
    for name in sorted(f for f in listed if f.startswith("results/") and f.endswith(".json") and f.count("/") == 1):
        try:
            payload = json.loads((folder / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _refuse(label, given, f"{name} is listed in run.json but missing") from None
        except (OSError, ValueError) as error:
            raise _refuse(label, given, f"{name} is not readable JSON ({error})") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("estimates"), list):
            raise _refuse(label, given, f"{name} is not a results file (no list of estimates)")
        results[str(payload.get("analysis") or Path(name).stem)] = payload
    if not results:
        raise _refuse(label, given, "holds no results to compare (every analysis was skipped or failed)")
    analyses = {a["name"]: a for a in facts.get("analyses") or [] if isinstance(a, dict) and "name" in a}
    run = Run(which, folder, facts["facts"], analyses, results)
    for analysis, payload in results.items():
        run.key[analysis], verdicts = key_estimates(analysis, payload)
        run.verdicts += verdicts
    return run


def key_estimates(analysis: str, payload: Mapping) -> tuple[list[str], list]:
    """Names of the estimates a results file's headline findings quote, then its verdicts' primary
    metrics (each once, in that order), and the verdicts themselves."""
    from study.report.summary import EXPERIMENTS  # the verdict rules import statsmodels: only when comparing

    names = [str(n) for f in payload.get("findings") or [] if isinstance(f, Mapping) and f.get("headline")
             for n in f.get("estimates") or []]
    verdicts = EXPERIMENTS[analysis](payload, None) if analysis in EXPERIMENTS else []
    names += [v.primary for v in verdicts]
    return list(dict.fromkeys(names)), verdicts


def _absence(run: Run, analysis: str) -> str:
    """Why an estimate is not in a run, in words."""
    if analysis not in run.results:
        state = run.analyses.get(analysis)
        if state is None:
            return f"run {run.which} did not run {analysis}"
        reason = f": {state['reason']}" if state.get("reason") else ""
        return f"run {run.which} {'skipped' if state.get('status') == 'skipped' else 'has no results of'} {analysis}{reason}"
    return f"run {run.which}'s results of {analysis} do not hold it"


def make_row(analysis: str, name: str, key: bool, a: Run, b: Run) -> Row:
    """The comparison of one estimate: change B - A, and whether the two intervals overlap."""
    ea = estimates_by_name(a.results.get(analysis)).get(name)
    eb = estimates_by_name(b.results.get(analysis)).get(name)
    label = str((ea or eb).get("label") or name)
    row = Row(analysis, name, label, key, style_of(ea, eb), ea, eb)
    if ea is None or eb is None:
        lacking = b if eb is None else a
        row.notes.append(f"Only in run {'A' if eb is None else 'B'}: {_absence(lacking, analysis)}.")
        row.whole_analysis = analysis not in lacking.results  # the page says it once, above the analysis's rows
        return row
    for run, estimate in ((a, ea), (b, eb)):
        if not usable(estimate, interval=False):
            method = f" ({estimate['method']})" if estimate.get("method") else ""
            row.notes.append(f"Run {run.which} could not estimate it{method}.")
    if usable(ea, interval=False) and usable(eb, interval=False):
        row.change = eb["value"] - ea["value"] + 0.0
    if usable(ea) and usable(eb):
        row.overlap = ea["ci_low"] <= eb["ci_high"] and eb["ci_low"] <= ea["ci_high"]
        row.separation = separation(ea, eb)
        if finite(ea.get("ci_level")) and finite(eb.get("ci_level")) and abs(ea["ci_level"] - eb["ci_level"]) > 1e-9:
            row.notes.append(f"The intervals have different levels ({ea['ci_level']:.0%} in A, {eb['ci_level']:.0%} in B).")
    elif row.change is not None:
        row.notes.append("No interval in both runs: the change cannot be judged against the uncertainty.")
    return row


def pair(a: Run, b: Run) -> list[Row]:
    """Every estimate of either run, key estimates of each analysis first, analyses in name order."""
    rows = []
    for analysis in sorted(set(a.results) | set(b.results)):
        present = [*estimates_by_name(a.results.get(analysis)), *estimates_by_name(b.results.get(analysis))]
        key = [n for n in dict.fromkeys([*a.key.get(analysis, []), *b.key.get(analysis, [])]) if n in present]
        rest = [n for n in dict.fromkeys(present) if n not in key]
        rows += [make_row(analysis, n, True, a, b) for n in key] + [make_row(analysis, n, False, a, b) for n in rest]
    return rows


def headline(rows: list[Row]) -> str:
    """One sentence: how many key estimates moved beyond their intervals' overlap, and the largest move."""
    judged = [r for r in rows if r.key and r.overlap is not None]
    moved = [r for r in judged if r.moved]
    if not judged:
        return "No key estimate has an interval in both runs, so none could be compared."
    if not moved:
        return (f"None of the {len(judged)} key estimates moved beyond their intervals' overlap: each interval of "
                "run B overlaps run A's.")
    top = max(moved, key=lambda r: r.separation)
    return (f"{len(moved)} of {len(judged)} key estimates moved beyond their intervals' overlap; the largest: "
            f"{top.label}, {top.style.value(top.a['value'])} in run A against {top.style.value(top.b['value'])} "
            f"in run B ({top.change_text}).")


def parameter_changes(a: Run, b: Run) -> list[str]:
    """Each parameter an analysis of both runs was given differently, in words."""
    changes = []
    for analysis in sorted(set(a.results) & set(b.results)):
        pa, pb = a.results[analysis].get("parameters") or {}, b.results[analysis].get("parameters") or {}
        for key in sorted(set(pa) | set(pb)):
            if pa.get(key) != pb.get(key):
                written = [json.dumps(p[key], ensure_ascii=False) if key in p else "not set" for p in (pa, pb)]
                changes.append(f"{analysis}: {key} {written[0]} in A, {written[1]} in B")
    return changes


def verdict_pairs(a: Run, b: Run) -> list[dict]:
    """Each experiment's verdict in run A and run B (``None`` where a run has none)."""
    found = {}
    for run in (a, b):
        for v in run.verdicts:
            found.setdefault(v.experiment, {"experiment": v.experiment, "A": None, "B": None})[run.which] = v.decision
    return list(found.values())


def check_compare_out(out: str | Path, runs: list[Path]) -> Path:
    """The comparison's folder: new or empty, or an earlier comparison of ours; never in or around a run.

    Raises
    ------
    study.report.safe_output.OutputError
        One line saying why and what to give instead.
    """
    folder = safe_output.check_out_dir(out, runs)
    for run in runs:
        if run.resolve() in folder.parents:
            raise safe_output.OutputError(f"--out {out}: is inside the report {run.name}, which would then hold a file "
                                          "the run did not write; give a folder outside both runs")
    if folder.is_dir() and any(folder.iterdir()):
        try:
            marked = COMPARE_MARK in json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            marked = False
        if not marked:
            raise safe_output.OutputError(f"--out {out}: holds a study report of a run, not a comparison; give a new "
                                          "folder or an earlier comparison's")
    return folder


def _run_facts(run: Run, out: Path) -> dict:
    facts = run.facts
    index = run.folder / "index.html"
    return {"folder": run.folder.resolve().name,
            "index": os.path.relpath(index.resolve(), out) if index.is_file() else None,
            "rows": [("Data file", facts.get("data file", "")), ("Fingerprint", facts.get("data fingerprint (SHA-256)", "")),
                     ("Rows read", facts.get("rows read", "")), ("Started (UTC)", facts.get("started (UTC)", "")),
                     ("Parameters", facts.get("parameters", "")), ("Analyses with results", ", ".join(sorted(run.results)))]}


def _titles(a: Run, b: Run) -> dict:
    return {name: state.get("title") or name for run in (b, a) for name, state in run.analyses.items()}


def render_page(a: Run, b: Run, rows: list[Row], sentence: str, out: Path) -> str:
    """The comparison page: self-contained HTML, every text escaped by the template."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    titles = _titles(a, b)

    def grouped(chosen):
        groups = {}
        for row in chosen:
            groups.setdefault(row.analysis, {"title": titles.get(row.analysis, row.analysis), "analysis": row.analysis,
                                             "note": group_note(row.analysis), "rows": []})["rows"].append(row)
        return list(groups.values())

    def group_note(analysis):
        for present, lacking in ((a, b), (b, a)):
            if analysis not in lacking.results:
                return f"Only in run {present.which}: {_absence(lacking, analysis)}."
        return ""

    key, rest = [r for r in rows if r.key], [r for r in rows if not r.key]
    return env.get_template("compare.html.j2").render(
        headline=sentence, runs=[_run_facts(a, out), _run_facts(b, out)], key=grouped(key), rest=grouped(rest),
        rest_count=len(rest), parameters=parameter_changes(a, b), verdicts=verdict_pairs(a, b),
        only_one=sum(r.key and (r.a is None or r.b is None) for r in rows))


CSV_COLUMNS = ("analysis", "name", "label", "key", "a_value", "a_ci_low", "a_ci_high", "a_ci_level", "b_value", "b_ci_low",
               "b_ci_high", "b_ci_level", "change", "intervals_overlap", "note", "a_data_file", "a_fingerprint",
               "b_data_file", "b_fingerprint")


def csv_rows(a: Run, b: Run, rows: list[Row]) -> list[list[str]]:
    """One line per estimate of :data:`CSV_COLUMNS`: numbers as numbers, text safe for spreadsheets."""
    from study.report.results_csv import number_cell

    def side(e):
        return [number_cell(e.get(k)) if e else "" for k in ("value", "ci_low", "ci_high", "ci_level")]

    sources = [text_cell(run.facts.get(k)) for run in (a, b) for k in ("data file", "data fingerprint (SHA-256)")]
    overlap = {True: "true", False: "false", None: ""}
    return [[text_cell(r.analysis), text_cell(r.name), text_cell(r.label), "true" if r.key else "false", *side(r.a),
             *side(r.b), number_cell(r.change), overlap[r.overlap], text_cell(" ".join(r.notes)), *sources]
            for r in rows]


def compare_runs(run_a: str | Path, run_b: str | Path, out: str | Path | None = None) -> tuple[Path, str]:
    """Write ``compare.html`` and ``compare.csv`` comparing two report folders.

    Parameters
    ----------
    run_a, run_b : str or Path
        Folders written by ``study run``; B is compared against A (changes are B minus A).
    out : str or Path, optional
        Folder for the comparison (default ``reports/compare``): new, empty, or an earlier comparison.

    Returns
    -------
    tuple of (Path, str)
        The folder written and the headline sentence.

    Raises
    ------
    CompareError, study.report.safe_output.OutputError
        One line: a folder that is not a study report, the same folder twice, unreadable JSON, or an
        output folder that is not ours.
    """
    first, second = Path(run_a), Path(run_b)
    if first.is_dir() and second.is_dir() and os.path.samefile(first, second):
        raise CompareError(f"RUN_A {run_a} and RUN_B {run_b} are the same folder; give two different runs")
    a, b = read_run(run_a, "A"), read_run(run_b, "B")
    folder = check_compare_out(out or DEFAULT_OUT, [first.resolve(), second.resolve()])
    rows = pair(a, b)
    sentence = headline(rows)
    page = render_page(a, b, rows, sentence, folder)
    table = csv_text(list(CSV_COLUMNS), csv_rows(a, b, rows))
    safe_output.remove_stale_staging(folder)
    staging = safe_output.new_staging(folder)
    try:
        (staging / PAGE).write_text(page, encoding="utf-8")
        write_csv_atomic(staging / TABLE, table)
        mark = {COMPARE_MARK: {"run A": a.facts, "run B": b.facts, "headline": sentence},
                safe_output.REPORT_MARK: {"files": sorted([PAGE, TABLE, "run.json"])}}
        (staging / "run.json").write_text(json.dumps(mark, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        safe_output.replace(staging, folder)
    except BaseException:  # an interrupted or failed write leaves the earlier comparison as it was
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder, sentence
