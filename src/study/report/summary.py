"""Executive summary of a run: the headline findings of each analysis and a verdict per experiment.

Everything here is read from the results files of the run (``results/<analysis>.json``, see
:func:`study.core.results.write_results`), never from notebook text. The sentences are the findings
each analysis wrote there (:meth:`study.core.results.AnalysisResult.findings`), so a number and its
sentence exist once, in the notebook, the results file and the index alike. A finding that is not
there (a skipped or failed analysis) is left out; nothing is filled in. The functions are pure:
results dicts in, dataclasses out. Sentences are Markdown, as the findings are; the index page
renders them and strips anything but emphasis.

Typical use::

    results = summary.read_results(out / "results")
    executive = summary.summarize(results, runs=[asdict(r) for r in runs])
    executive.to_dict()  # for run.json
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from study.analyses import AB_TEST, EXPERIMENT
from study.core.findings import KINDS, section_anchor
from study.core.words import text
from study.report.sentences import ANCHOR, ERROR_ANCHOR, Sentence, read_results
from study.report.verdict import Verdict, ab_test_verdicts, experiment_verdicts


@dataclass
class ExecutiveSummary:
    """The sentences and verdicts of a run, in analysis order."""

    sentences: list[Sentence] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sentences or self.verdicts)

    def to_dict(self) -> dict:
        """Machine-readable form for ``run.json``."""
        return {
            "sentences": [{**asdict(s), "estimates": list(s.estimates)} for s in self.sentences],
            "verdicts": [{**asdict(v), "guardrails": list(v.guardrails), "harmed": list(v.harmed)} for v in self.verdicts],
        }


def _href(analysis: str, runs: Mapping[str, Mapping]) -> str | None:
    run = runs.get(analysis)
    if run is None:
        return f"{analysis}.html#{ANCHOR}"
    return f"{run['html']}#{ANCHOR}" if run.get("html") else None


def headline_sentences(analysis: str, payload: Mapping, href: str | None) -> list[Sentence]:
    """The findings an analysis marked as headlines, as its notebook wrote them into its results file."""
    out = []
    for finding in payload.get("findings") or []:
        if isinstance(finding, Mapping) and finding.get("headline") and isinstance(finding.get("text"), str):
            kind = finding.get("kind") if finding.get("kind") in KINDS else "finding"
            section = finding.get("section")
            # The link goes to the section that shows the evidence, when the finding names one.
            where = f"{href.split('#')[0]}#{section_anchor(section)}" if href and isinstance(section, str) and section.strip() else href
            out.append(Sentence(analysis, finding["text"], where, tuple(str(e) for e in finding.get("estimates") or ()), kind))
    return out


def failed_sentence(run: Mapping) -> Sentence:
    """One sentence saying an analysis failed and where to look."""
    name = run["name"]
    reason = f" ({text(run['reason'])})" if run.get("reason") else ""
    where = f"its report {text(run['html'])} shows where" if run.get("html") else "no report was written"
    return Sentence(name, f"{text(run.get('title') or name)} failed{reason}: none of its numbers are in this summary; "
                          f"{where}, and {text(f'logs/{name}.log')} has the kernel's messages.",
                    f"{run['html']}#{ERROR_ANCHOR}" if run.get("html") else None, (), "failed")


EXPERIMENTS = {AB_TEST: ab_test_verdicts, EXPERIMENT: experiment_verdicts}


def summarize(results: Mapping[str, Mapping], runs: Sequence[Mapping] | None = None) -> ExecutiveSummary:
    """The executive summary of a run from its results files.

    Parameters
    ----------
    results : mapping
        ``{analysis: payload}`` of ``results/<analysis>.json`` (:func:`read_results`).
    runs : sequence of mapping, optional
        What happened to each analysis (``name``, ``status``, ``reason``, ``html``, ``title``), in the
        order of the index. A failed analysis gets one sentence saying so, and its results (if any)
        are not used; a skipped one gets nothing. Without ``runs``, every analysis with results is
        taken as run, with its report at ``<analysis>.html``.

    Returns
    -------
    ExecutiveSummary
        The headline findings of each analysis in analysis order (each with a link to its report's
        Findings), and a verdict for each experiment whose primary metric has an estimate
        (:func:`study.report.verdict.verdict`).
    """
    by_name = {run["name"]: run for run in runs or []}
    order = [run["name"] for run in runs] if runs is not None else sorted(results)
    executive = ExecutiveSummary()
    for analysis in order:
        run = by_name.get(analysis)
        if run is not None and run.get("status") == "failed":
            executive.sentences.append(failed_sentence(run))
            continue
        if run is not None and run.get("status") != "ok":
            continue
        payload = results.get(analysis)
        if not payload:
            continue
        href = _href(analysis, by_name)
        executive.sentences += headline_sentences(analysis, payload, href)
        if analysis in EXPERIMENTS:
            # A verdict links where its primary metric's headline finding links: the section with the evidence.
            where = {name: s.href for s in executive.sentences if s.analysis == analysis for name in s.estimates}
            executive.verdicts += [replace(v, href=where.get(v.primary, v.href))
                                   for v in EXPERIMENTS[analysis](payload, href)]
    return executive


def for_run(results_dir: str | Path, runs: Sequence) -> ExecutiveSummary:
    """:func:`summarize` on a run's results folder; ``runs`` are :class:`study.report.index.AnalysisRun` or mappings."""
    plain = [run if isinstance(run, Mapping) else
             {key: getattr(run, key, None) for key in ("name", "title", "status", "reason", "html")} for run in runs]
    return summarize(read_results(results_dir), plain)
