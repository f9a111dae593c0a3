"""Executive summary of a run: one plain sentence per key finding and a verdict per experiment.

Everything here is read from the results files of the run (``results/<analysis>.json``, see
:func:`study.core.results.write_results`), never from notebook text, so a number in the summary is the
number in the results. An estimate that is not there (a skipped or failed analysis, an optional
column absent, an undefined lift) is left out; nothing is filled in. The functions are pure: results
dicts in, dataclasses out. The text is plain (not HTML): the index template escapes it.

Typical use::

    results = summary.read_results(out / "results")
    executive = summary.summarize(results, runs=[asdict(r) for r in runs])
    executive.to_dict()  # for run.json
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from study.analyses import AB_TEST, DRIVERS, EXPERIMENT, OVERVIEW, REPEAT
from study.core.words import resolution_versus_speed
from study.report.sentences import (
    ANCHOR,
    CSAT_POINTS,
    ERROR_ANCHOR,
    PCT,
    PLAIN,
    PP,
    SHARE,
    Sentence,
    change,
    direction,
    estimates_by_name,
    get,
    holding,
    interval_level,
    oriented,
    read_results,
    skipped_notes,
    skipped_sentence,
)
from study.report.verdict import Verdict, ab_test_parts, experiment_parts


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


def overview_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """01: mean CSAT and the repeat-purchase rate, the baseline the other numbers move."""
    found = estimates_by_name(payload)
    csat, answered, repeat = (get(found, n) for n in ("csat_mean", "survey_response_rate", "repeat_purchase_rate"))
    parts, used = [], []
    if csat:
        share = f" among the {PCT(answered['value'])} of tickets with a survey answer" if answered else ""
        parts.append(f"mean CSAT is {csat['value']:.2f} on the 1-5 scale ({interval_level(csat)} {csat['ci_low']:.2f} to "
                     f"{csat['ci_high']:.2f}){share}")
        used += ["csat_mean"] + (["survey_response_rate"] if answered else [])
    if repeat:
        parts.append(f"{PCT(repeat['value'])} of tickets ({interval_level(repeat)} {PCT(repeat['ci_low'], bound=True)} to "
                     f"{PCT(repeat['ci_high'], bound=True)}) were followed by a repeat purchase")
        used.append("repeat_purchase_rate")
    if not parts:
        return []
    text = "Baseline: " + "; ".join(parts) + " (descriptive, nothing adjusted)."
    return [Sentence(OVERVIEW, text, href, tuple(used))]


def drivers_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """02: the adjusted speed effect beside the naive and randomized ones; resolution against speed."""
    found = estimates_by_name(payload)
    out = []
    adjusted = get(found, "csat_per_doubling_adjusted")
    if adjusted:
        sign = direction(adjusted)
        text = (f"Each doubling of first response time "
                f"{change(adjusted, CSAT_POINTS, 'raises CSAT', 'lowers CSAT', 'changes CSAT')} on the 1-5 scale"
                f"{holding(adjusted)} — observational")
        used = ["csat_per_doubling_adjusted"]
        others = []
        naive = get(found, "csat_per_doubling_naive")
        if naive:
            others.append(f"the naive comparison (nothing held fixed) gives {oriented(naive, PLAIN, sign)}")
            used.append("csat_per_doubling_naive")
        randomized = get(found, "csat_per_doubling_randomized")
        if randomized:
            others.append(f"the randomized estimate from the SLA experiment is {oriented(randomized, PLAIN, sign)}")
            used.append("csat_per_doubling_randomized")
        if others:
            text += "; " + ", and ".join(others)
        out.append(Sentence(DRIVERS, text + ".", href, tuple(used)))
    resolved = get(found, "csat_resolved_adjusted")
    if resolved:
        text = (f"Resolving the customer's problem "
                f"{change(resolved, CSAT_POINTS, 'raises CSAT', 'lowers CSAT', 'changes CSAT')}{holding(resolved, 'resolved')} "
                "— observational")
        used = ["csat_resolved_adjusted"]
        day = get(found, "csat_24h_vs_1h_adjusted")
        if day:
            day_sign = direction(day)
            cost = (f"costs {oriented(day, CSAT_POINTS, -1, with_level=True)}" if day_sign < 0 else
                    f"changes CSAT by {oriented(day, CSAT_POINTS, 0, with_level=True)}")
            text += f"; a first reply in 24 hours instead of 1 hour {cost}, so {resolution_versus_speed(_interval(resolved), _interval(day))}"
            used.append("csat_24h_vs_1h_adjusted")
        out.append(Sentence(DRIVERS, text + ".", href, tuple(used)))
    if not adjusted:
        reason = skipped_notes(payload).get("naive and adjusted models")
        if reason:
            out.append(skipped_sentence(DRIVERS, "The model of CSAT on response speed (observational)", reason, href))
    return out


def _interval(estimate: Mapping) -> tuple[float, float]:
    return estimate["ci_low"], estimate["ci_high"]


def repeat_sentences(payload: Mapping, href: str | None) -> list[Sentence]:
    """03: repeat purchase per doubling of the wait, and the share of it that runs through CSAT."""
    found = estimates_by_name(payload)
    out = []
    total = get(found, "repeat_per_doubling_total")
    if total:
        out.append(Sentence(REPEAT, (
            "Each doubling of first response time "
            f"{change(total, PP, 'raises the chance of a repeat purchase', 'lowers the chance of a repeat purchase', 'changes the chance of a repeat purchase')}"
            f"{holding(total)} — observational."), href, ("repeat_per_doubling_total",)))
    share = get(found, "share_of_speed_effect_via_csat")
    if share:
        out.append(Sentence(REPEAT, (
            f"Of the speed effect on repeat purchase among survey respondents, {SHARE(share['value'])} "
            f"({interval_level(share)} {SHARE(share['ci_low'], bound=True)} to {SHARE(share['ci_high'], bound=True)}) runs "
            "through satisfaction (mediation analysis; it assumes nothing unmeasured drives both CSAT and buying again)."),
            href, ("share_of_speed_effect_via_csat",)))
    skipped = skipped_notes(payload)
    if not total and skipped.get("logit without CSAT"):
        out.append(skipped_sentence(REPEAT, "The model of repeat purchase on response speed", skipped["logit without CSAT"], href))
    if not share and skipped.get("mediation") and skipped.get("mediation") != skipped.get("logit without CSAT"):
        out.append(skipped_sentence(REPEAT, "The share of the speed effect that runs through satisfaction",
                                     skipped["mediation"], href))
    return out


def failed_sentence(run: Mapping) -> Sentence:
    """One sentence saying an analysis failed and where to look."""
    name = run["name"]
    reason = f" ({run['reason']})" if run.get("reason") else ""
    where = f"its report {run['html']} shows where" if run.get("html") else "no report was written"
    return Sentence(name, f"{run.get('title') or name} failed{reason}: none of its numbers are in this summary; "
                          f"{where}, and logs/{name}.log has the kernel's messages.",
                    f"{run['html']}#{ERROR_ANCHOR}" if run.get("html") else None, (), "failed")


BUILDERS = {OVERVIEW: overview_sentences, DRIVERS: drivers_sentences, REPEAT: repeat_sentences}


EXPERIMENTS = {AB_TEST: ab_test_parts, EXPERIMENT: experiment_parts}


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
        Sentences in analysis order (each with a link to its report's Findings), and a verdict for
        each experiment whose primary metric has an estimate (:func:`verdict`).
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
        if analysis in BUILDERS:
            executive.sentences += BUILDERS[analysis](payload, href)
        elif analysis in EXPERIMENTS:
            sentences, verdicts = EXPERIMENTS[analysis](payload, href)
            executive.sentences += sentences
            executive.verdicts += verdicts
    return executive


def for_run(results_dir: str | Path, runs: Sequence) -> ExecutiveSummary:
    """:func:`summarize` on a run's results folder; ``runs`` are :class:`study.report.index.AnalysisRun` or mappings."""
    plain = [run if isinstance(run, Mapping) else
             {key: getattr(run, key, None) for key in ("name", "title", "status", "reason", "html")} for run in runs]
    return summarize(read_results(results_dir), plain)
