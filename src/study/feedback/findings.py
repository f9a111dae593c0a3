"""A feedback analysis in words: how many wrote, each theme's share, where it is common, with what it goes."""

from __future__ import annotations

import math

from study.core.findings import Finding, Findings, skipped
from study.core.results import Estimate, Skipped
from study.core.words import p_value, pct, text
from study.feedback.association import OUTCOMES
from study.feedback.lexicon import CHAR_WINDOW, WORD_WINDOW

# The heading of 10's section that shows how often each theme is named (the index links to it).
SECTION = "How often each theme is named, and with what it goes"


def _theme(theme: str) -> str:
    return text(theme.replace("_", " "))


def _share(e: Estimate) -> str:
    return f"{pct(e.value)} of comments ({e.ci_level:.0%} CI {pct(e.ci_low)} to {pct(e.ci_high)})"


def _difference(outcome: str, e: Estimate) -> str:
    scale, digits = (100, 1) if outcome == "repeat_purchase" else (1, 2)
    unit = OUTCOMES[outcome][1]
    size = f"{abs(e.value) * scale:.{digits}f}"
    if float(size) == 0:
        size = f"{abs(e.value) * scale:.2g}"
    way = "higher" if e.value > 0 else "lower"
    return (f"{size} {unit} {way} ({e.ci_level:.0%} CI {e.ci_low * scale:+.{digits}f} to {e.ci_high * scale:+.{digits}f}; "
            f"{p_value(e.p_value)}, Holm-adjusted across {e.extra['family']} themes {p_value(e.extra['p_holm'])})")


def findings(result, truth: dict | None = None) -> Findings:
    """How many wrote, the most common theme first, each theme, the comparisons, the skipped parts and the truth."""
    if result.skipped:
        return Findings([skipped("feedback analysis", result.skipped, headline=True)])
    ledger = result.ledger
    written = ledger.rows_used
    ordered = sorted(result.shares.items(), key=lambda item: -item[1].value)
    found = [(t, e) for t, e in ordered if e.extra["comments with the theme"] > 0]
    out = []
    opening = (f"{written:,} of {ledger.rows_in:,} tickets ({pct(written / ledger.rows_in)}) carry a comment; themes "
               f"are read from them with {text(result.lexicon.origin)}")
    if found:
        top, e = found[0]
        out.append(Finding(f"{opening}. The most named theme is {_theme(top)}, in {_share(e)}.", (e.name,), headline=True, section=SECTION))
    else:
        out.append(Finding(f"{opening}, and no comment names any of its themes.", headline=True, section=SECTION))
    for theme, e in found[1:]:
        out.append(Finding(f"{_theme(theme)[:1].upper()}{_theme(theme)[1:]} is named in {_share(e)}.", (e.name,)))
    out += _contrast(result.by_band, "first reply", found)
    out += _contrast(result.by_resolution, "case", found)
    for outcome, by_theme in result.associations.items():
        out += _associations(outcome, {t: e for t, e in by_theme.items() if isinstance(e, Estimate)}, result.alpha)
    out += [skipped(s.section, s.reason) for s in result._skips()]
    out += _truth(result, truth or {})
    return Findings(out)


def _associations(outcome: str, fitted: dict[str, Estimate], alpha: float) -> list[Finding]:
    """A sentence per theme whose difference survives Holm's adjustment, one sentence for the others."""
    out, unclear = [], []
    for theme, e in fitted.items():
        if e.extra["p_holm"] >= alpha:
            unclear.append((theme, e))
            continue
        adjusted = ", with the same category, channel and loyalty tier" if "adjusted" in e.label else ""
        out.append(Finding(
            f"Among the customers who commented{adjusted}, comments naming {_theme(theme)} go with a "
            f"{OUTCOMES[outcome][0]} {_difference(outcome, e)} than the other comments: an association, not the "
            "effect of the experience.", (e.name,)))
    if unclear:
        words = [_theme(t) for t, _ in unclear]
        names = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        out.append(Finding(
            f"{OUTCOMES[outcome][0][:1].upper()}{OUTCOMES[outcome][0][1:]} of customers whose comments name {names} "
            f"is not distinguishable from the other commenters' once the p-values are adjusted across the "
            f"{len(fitted)} themes (Holm, {1 - alpha:.0%} level); the table gives each difference with its interval.",
            tuple(e.name for _, e in unclear)))
    return out


def _contrast(long, what: str, found) -> list[Finding]:
    """Themes whose share differs between the first and the last group with a share (intervals apart)."""
    if isinstance(long, Skipped) or long is None or long.empty:
        return []
    out = []
    for theme, _ in found:
        rows = long[(long["theme"] == theme) & long["share"].notna()].set_index("group")
        if len(rows) < 2:
            continue
        ends = (rows.index[0], rows.index[-1])
        a, b = rows.loc[ends[0]], rows.loc[ends[1]]
        if a["CI high"] < b["CI low"] or b["CI high"] < a["CI low"]:
            out.append(Finding(
                f"{_theme(theme)[:1].upper()}{_theme(theme)[1:]} is named in {pct(b['share'])} of comments when the "
                f"{what} was {ends[1]} ({pct(b['CI low'])} to {pct(b['CI high'])}) against {pct(a['share'])} when it was "
                f"{ends[0]} ({pct(a['CI low'])} to {pct(a['CI high'])})."))
    return out


def _truth(result, truth: dict) -> list[Finding]:
    shares = truth.get("comment_theme_share") or {}
    out = []
    for theme, value in shares.items():
        e = result.shares.get(theme)
        if e is None or value is None or not math.isfinite(float(value)):
            continue
        covers = "covers" if e.covers(float(value)) else "does **not** cover"
        out.append(Finding(f"Simulation: {pct(float(value))} of comments truly carry {_theme(theme)}; the lexicon's "
                           f"interval ({pct(e.ci_low)} to {pct(e.ci_high)}) {covers} it.", (e.name,), kind="truth"))
    return out + _truth_by_ticket(result, truth.get("comment_themes_by_ticket") or {})


def _truth_by_ticket(result, by_ticket: dict) -> list[Finding]:
    """Each theme's lexicon precision and recall against the tickets whose comment truly carries it."""
    if not by_ticket or result.themes is None or "ticket_id" not in result.comments.columns:
        return []
    ids = result.comments["ticket_id"].astype(str)
    out = []
    for theme, tickets in by_ticket.items():
        if theme not in result.themes.columns:
            continue
        found = result.themes[theme].to_numpy()
        true = ids.isin({str(t) for t in tickets}).to_numpy()  # among the comments analysed
        hits = int((found & true).sum())
        precision = (f"precision {hits / found.sum():.2f} ({hits:,} of the {int(found.sum()):,} comments it names)"
                     if found.any() else "no comment named (precision undefined)")
        recall = (f"recall {hits / true.sum():.2f} ({hits:,} of the {int(true.sum()):,} comments that carry it)"
                  if true.any() else "no comment truly carrying it (recall undefined)")
        out.append(Finding(f"Simulation: the lexicon finds {_theme(theme)} with {precision} and {recall}, against "
                           "the comments' true themes.", kind="truth"))
    return out


def _sample(discovery) -> str:
    if not getattr(discovery, "sampled", False):
        return ""
    return (f" They were found among a random sample of {len(discovery.index):,} of the {discovery.sampled_from:,} "
            "comments (drawn with the seed), and the topics table counts the comments of that sample.")


def assumptions(result) -> list[str]:
    """What the numbers rest on, in words."""
    if result.skipped:
        return [f"Nothing was analysed, so nothing is assumed: {result.skipped}."]
    return [
        ("Who comments is self-selected: customers with a bad or a very good experience write more, so shares are "
         "shares of comments, not of all customers, and the comparisons with CSAT and repeat purchase are "
         "associations among those who wrote."),
        (f"Themes come from {result.lexicon.origin}: a comment counts when it contains one of a theme's words or "
         "phrases (whole words in spaced scripts, anywhere for Chinese characters), after Unicode normalization and "
         "ignoring case. Synonyms not listed, misspellings, irony and complaints without the usual words are missed."),
        (f"Negation: a word is not counted when a negation (not, never, n't, não, nem, sem, 不, 没, 没有, 无, 未 ...) "
         f"stands within {WORD_WINDOW} words before it (Chinese: {CHAR_WINDOW} characters) in the same clause, so "
         "'not slow', 'não atrasou' and '不慢' count as not slow. Double negations and negations further away are not "
         "understood."),
        ("Discovered topics are groups of words that occur together in the same sentences (TF-IDF and NMF with a "
         "fixed seed); they are not meanings, and another number of topics can split or merge them. Markup, e-mail "
         "and web addresses, long numbers and terms of digits only are left out of their terms; names are not."
         + _sample(result.discovery)),
        ("The comparisons hold fixed the category, channel and loyalty tier where the data has them; anything else "
         "that drives both what customers write and their CSAT or return is not held fixed."),
    ]
