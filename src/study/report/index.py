"""The index page of a run: executive summary, status and row accounting per analysis, findings, run facts."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from study.report import glossary, headline, key_results, summary
from study.report.export import TEMPLATES
from study.report.sentences import read_results

FINDINGS_TAGS = {"p", "ul", "ol", "li", "strong", "em", "code", "b", "i"}


@dataclass
class AnalysisRun:
    """What happened to one analysis in a run."""

    name: str
    title: str
    status: str = "pending"  # ok, failed or skipped
    reason: str = ""
    seconds: float | None = None
    html: str | None = None
    rows: dict = field(default_factory=dict)
    findings_markdown: str = ""
    pdf: str | None = None


def _dropped_words(rows: dict) -> str:
    """Row accounting of one analysis (or of its several models) in words."""
    if not rows:
        return "", "", ""
    parts = {"": rows} if "in" in rows else {f"{model}: ": part for model, part in rows.items()}

    def join(words):
        return "; ".join(f"{model}{word}" for model, word in zip(parts, words))

    return (
        join(f"{p['in']:,}" for p in parts.values()),
        join(f"{p['used']:,}" for p in parts.values()),
        join(", ".join(f"{n:,} {reason}" for reason, n in p["dropped"].items()) or "none" for p in parts.values()),
    )


def _split_reason(reason: str) -> dict:
    """A verdict's first sentence, shown, and the rest, folded away (``first`` and ``rest``)."""
    end = re.search(r"(?<=[a-z%)])\.(\s|$)", reason)
    if end is None:
        return {"first": reason.rstrip(".") + ".", "rest": ""}
    return {"first": reason[:end.start() + 1], "rest": reason[end.end():].strip()}


def write_index(path: Path, runs: list[AnalysisRun], facts: dict, executive: summary.ExecutiveSummary | None = None,
                pdf: bool = False) -> Path:
    """Write :func:`index_page` for the run whose report folder ``path`` is in; returns ``path``."""
    path.write_text(index_page(path.parent, runs, facts, executive, pdf), encoding="utf-8")
    return path


@functools.lru_cache(maxsize=1)
def _templates() -> Any:
    """The report templates' environment, made once: a template is compiled once per environment."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


def index_page(folder: Path, runs: list[AnalysisRun], facts: dict, executive: summary.ExecutiveSummary | None = None,
               pdf: bool = False) -> str:
    """The index page: headline, verdicts, results table, findings, reports with row accounting, run facts.

    Parameters
    ----------
    folder : Path
        The report folder the page belongs in; the run's ``results`` folder is in it.
    runs : list of AnalysisRun
    facts : dict
        Run facts in words; ``data file`` and ``period`` make the title.
    executive : ExecutiveSummary, optional
        Defaults to the summary of the ``results`` folder in ``folder``
        (:func:`study.report.summary.for_run`); its text is escaped by the template.
    pdf : bool
        Whether the page links to its own PDF (``index.pdf``, printed after it is written).

    Returns
    -------
    str
        The page's HTML.
    """
    import bleach
    from nbconvert.filters.markdown import markdown2html

    def safe_html(markdown: str, inline: bool = False) -> str:
        # Findings escape the data's text when written (study.core.words.text); whatever else reaches
        # here is rendered and then cut down to harmless tags, with no links (no javascript: URL).
        html = bleach.clean(markdown2html(markdown), tags=FINDINGS_TAGS, attributes={}, strip=True).strip() if markdown else ""
        return html[3:-4] if inline and html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1 else html

    rows = []
    for run in runs:
        rows_in, used, dropped = _dropped_words(run.rows)
        results_json = f"results/{run.name}.json"
        rows.append({**asdict(run), "rows_in": rows_in, "rows_used": used, "dropped": dropped,
                     "findings_html": safe_html(run.findings_markdown),
                     "results_json": results_json if (folder / results_json).is_file() else None})
    counts = {s: sum(r.status == s for r in runs) for s in ("ok", "failed", "skipped")}
    sentence = (f"{counts['ok']} of {len(runs)} analyses ran"
                + (f"; {counts['failed']} failed" if counts["failed"] else "")
                + (f"; {counts['skipped']} skipped (reason beside each)" if counts["skipped"] else "") + ".")
    if executive is None:
        executive = summary.for_run(folder / "results", runs)
    titles = {run.name: run.title for run in runs}
    groups = {}  # the executive summary's sentences under the title of their analysis, in run order
    for s in executive.sentences:
        groups.setdefault(s.analysis, {"title": titles.get(s.analysis, s.analysis), "sentences": []})["sentences"].append(
            {"html": safe_html(s.text, inline=True), "href": s.href, "kind": s.kind})
    results = read_results(folder / "results")
    key_rows = key_results.key_results(results, executive.sentences, executive.verdicts)
    table = [{**asdict(row), "evidence_words": row.evidence_words, "analysis_title": titles.get(row.analysis, row.analysis),
              "bar_svg": key_results.interval_bar(row.bar)} for row in key_rows]
    page = _templates().get_template("index.html.j2").render(
        runs=rows, facts=list(facts.items()), summary_sentence=sentence, executive=executive,
        groups=list(groups.values()), key_rows=table, verdicts=[{**asdict(v), **_split_reason(v.reason)} for v in executive.verdicts], headline=headline.headline(key_rows, executive.verdicts),
        title=headline.title(str(facts.get("data file", "")), facts.get("period")), study_name=headline.STUDY,
        data_title=headline.data_title(str(facts.get("data file", "")), facts.get("period")), pdf=pdf)
    # Terms of art (CI, pp, Lee bounds, randomized) explained on hover and in a Glossary at the end, as on every report.
    page, used = glossary.annotate_with_terms(page)
    if used:
        page = page.replace("</main>", glossary.glossary_section(used) + "\n</main>", 1)
    else:
        page = page.replace(' · <a href="#Glossary">Glossary</a>', "", 1)
    return page
