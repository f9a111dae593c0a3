"""The index page of a run: executive summary, status and row accounting per analysis, findings, run facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from study.report import summary
from study.report.export import TEMPLATES

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


def write_index(path: Path, runs: list[AnalysisRun], facts: dict, executive: summary.ExecutiveSummary | None = None) -> Path:
    """The index page: executive summary, links, status per analysis, row accounting, findings and run facts.

    ``executive`` defaults to the summary of the ``results`` folder beside ``path``
    (:func:`study.report.summary.for_run`); its text is escaped by the template.
    """
    import bleach
    import jinja2
    from nbconvert.filters.markdown import markdown2html

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)

    def safe_html(markdown: str, inline: bool = False) -> str:
        # Findings escape the data's text when written (study.core.words.text); whatever else reaches
        # here is rendered and then cut down to harmless tags, with no links (no javascript: URL).
        html = bleach.clean(markdown2html(markdown), tags=FINDINGS_TAGS, attributes={}, strip=True).strip() if markdown else ""
        return html[3:-4] if inline and html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1 else html

    rows = []
    for run in runs:
        rows_in, used, dropped = _dropped_words(run.rows)
        rows.append({**asdict(run), "rows_in": rows_in, "rows_used": used, "dropped": dropped,
                     "findings_html": safe_html(run.findings_markdown)})
    counts = {s: sum(r.status == s for r in runs) for s in ("ok", "failed", "skipped")}
    sentence = (f"{counts['ok']} of {len(runs)} analyses ran"
                + (f"; {counts['failed']} failed" if counts["failed"] else "")
                + (f"; {counts['skipped']} skipped (reason beside each)" if counts["skipped"] else "") + ".")
    if executive is None:
        executive = summary.for_run(path.parent / "results", runs)
    titles = {run.name: run.title for run in runs}
    groups = {}  # the executive summary's sentences under the title of their analysis, in run order
    for s in executive.sentences:
        groups.setdefault(s.analysis, {"title": titles.get(s.analysis, s.analysis), "sentences": []})["sentences"].append(
            {"html": safe_html(s.text, inline=True), "href": s.href, "kind": s.kind})
    page = env.get_template("index.html.j2").render(runs=rows, facts=list(facts.items()), summary_sentence=sentence,
                                                    executive=executive, groups=list(groups.values()))
    path.write_text(page, encoding="utf-8")
    return path
