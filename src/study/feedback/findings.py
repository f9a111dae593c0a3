"""A feedback analysis in words: how many wrote, each theme's share, where it is common, with what it goes."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

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


def signed_difference(outcome: str, e: Estimate) -> str:
    """A theme's difference with its sign and interval, as the findings and the table write it: CSAT in points
    with two decimals ('-0.19 (-0.27 to -0.12)'), repeat purchase in percentage points ('-9.1 pp (-11.6 to -6.6)')."""
    share = outcome == "repeat_purchase"
    scale, digits, unit = (100, 1, " pp") if share else (1, 2, "")
    value = f"{e.value * scale:+.{digits}f}"
    if float(value) == 0:  # too small for the fixed decimals: two significant digits rather than "+0.0"
        value = f"{e.value * scale:+.2g}"
    return f"{value}{unit} ({e.ci_low * scale:+.{digits}f} to {e.ci_high * scale:+.{digits}f})"


def _difference(outcome: str, e: Estimate) -> str:
    words, unit = OUTCOMES[outcome]
    inner = signed_difference(outcome, e)
    value, _, interval = inner.partition(" (")
    return (f"{words} difference of {value}{'' if unit == 'percentage points' else ' points'} ({e.ci_level:.0%} CI "
            f"{interval.rstrip(')')}; {p_value(e.p_value)}, Holm-adjusted across {e.extra['family']} themes "
            f"{p_value(e.extra['p_holm'])})")


def findings(result, truth: dict | None = None) -> Findings:
    """How many wrote and the most named theme (the headline), then one finding per theme: its share, where it
    is most named, and with what it goes; then the skipped parts and, on simulated data, one check per theme.

    Where each theme is named by first response time and by resolution is in the report's tables (band and
    resolution); a theme's finding quotes only its largest contrast.
    """
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
        out.append(Finding(f"{opening}. The most named theme is {_theme(top)}, in {_share(e)}.", (e.name,),
                           headline=True, section=SECTION))
    else:
        out.append(Finding(f"{opening}, and no comment names any of its themes.", headline=True, section=SECTION))
    fitted = {outcome: {t: e for t, e in by_theme.items() if isinstance(e, Estimate)}
              for outcome, by_theme in result.associations.items()}
    contrasts = {theme: _largest_contrast(result, theme) for theme, _ in found}
    for i, (theme, e) in enumerate(found):
        out.append(_theme_finding(theme, e, i == 0, contrasts[theme], fitted, result.alpha))
    out += [skipped(s.section, s.reason) for s in result._skips()]
    out += _truth(result, truth or {})
    return Findings(out)


def _theme_finding(theme: str, share: Estimate, top: bool, contrast: str, fitted: dict, alpha: float) -> Finding:
    """One theme in one finding: its share (unless the headline gave it), where it is most named, and its
    associations with CSAT and repeat purchase that survive Holm's adjustment across themes."""
    name = _theme(theme)
    parts = [f"**{name[:1].upper()}{name[1:]}.**" + ("" if top else f" Named in {_share(share)}.")]
    if contrast:
        parts.append(contrast)
    clear, unclear, adjusted = [], [], False
    for outcome, by_theme in fitted.items():
        e = by_theme.get(theme)
        if e is None:
            continue
        if e.extra["p_holm"] < alpha:
            clear.append(f"a {_difference(outcome, e)}")
            adjusted = adjusted or "adjusted" in e.label
        else:
            unclear.append((OUTCOMES[outcome][0], e.extra["family"]))
    if clear:
        same = ", with the same category, channel and loyalty tier," if adjusted else ""
        parts.append(f"Among the customers who commented{same} comments naming it go with {' and '.join(clear)} against "
                     "the other comments: an association, not the effect of the experience.")
    if unclear:
        parts.append(f"Its difference in {' and '.join(o for o, _ in unclear)} is not distinguishable from zero once the "
                     f"p-values are adjusted across the {unclear[0][1]} themes (Holm, {1 - alpha:.0%} level).")
    names = (share.name,) + tuple(by_theme[theme].name for by_theme in fitted.values() if theme in by_theme)
    return Finding(" ".join(parts), names, section=SECTION)


def _largest_contrast(result, theme: str) -> str:
    """The group contrast (first reply or resolution) with the largest gap whose intervals are apart, in words."""
    best = None
    for long, what in ((result.by_band, "first reply"), (result.by_resolution, "case")):
        if isinstance(long, Skipped) or long is None or long.empty:
            continue
        rows = long[(long["theme"] == theme) & long["share"].notna()].set_index("group")
        if len(rows) < 2:
            continue
        high, low = rows["share"].idxmax(), rows["share"].idxmin()
        a, b = rows.loc[high], rows.loc[low]
        if a["CI low"] > b["CI high"] and (best is None or a["share"] - b["share"] > best[0]):
            best = (a["share"] - b["share"], what, high, a, low, b)
    if best is None:
        return ""
    _, what, high, a, low, b = best
    return (f"Most named when the {what} was {text(str(high))} ({pct(a['share'])} of those comments, "
            f"{pct(a['CI low'])} to {pct(a['CI high'])}), least when it was {text(str(low))} ({pct(b['share'])}); "
            "the tables by response time and resolution give every group.")


def _truth(result, truth: dict) -> list[Finding]:
    """One check per theme against the simulation: whether the share's interval covers the true share, and the
    lexicon's precision and recall against the comments that truly carry the theme."""
    shares = truth.get("comment_theme_share") or {}
    said: dict[str, tuple[list[str], tuple[str, ...]]] = {}
    for theme, value in shares.items():
        e = result.shares.get(theme)
        if e is None or value is None or not math.isfinite(float(value)):
            continue
        covers = "covers" if e.covers(float(value)) else "does **not** cover"
        said[theme] = ([f"{pct(float(value))} of comments truly carry {_theme(theme)}; the lexicon's interval "
                        f"({pct(e.ci_low)} to {pct(e.ci_high)}) {covers} it"], (e.name,))
    for theme, words in _truth_by_ticket(result, truth.get("comment_themes_by_ticket") or {}).items():
        said.setdefault(theme, ([], ()))[0].append(words)
    return [Finding("Simulation: " + "; ".join(parts) + ".", names, kind="truth") for parts, names in said.values()]


def _truth_by_ticket(result, by_ticket: dict) -> dict[str, str]:
    """Each theme's lexicon precision and recall against the tickets whose comment truly carries it, in words."""
    if not by_ticket or result.themes is None or "ticket_id" not in result.comments.columns:
        return {}
    # As Arrow strings: Arrow looks a million ids up at once, where pandas converts each one to a scalar first.
    ids = pa.array(result.comments["ticket_id"].astype(str), type=pa.large_string())
    out = {}
    for theme, tickets in by_ticket.items():
        if theme not in result.themes.columns:
            continue
        found = result.themes[theme].to_numpy()
        truly = pa.array([str(t) for t in tickets], type=pa.large_string())
        true = pc.is_in(ids, value_set=truly).to_numpy(zero_copy_only=False)  # among the comments analysed
        hits = int((found & true).sum())
        precision = (f"precision {hits / found.sum():.2f} ({hits:,} of the {int(found.sum()):,} comments it names)"
                     if found.any() else "no comment named (precision undefined)")
        recall = (f"recall {hits / true.sum():.2f} ({hits:,} of the {int(true.sum()):,} comments that carry it)"
                  if true.any() else "no comment truly carrying it (recall undefined)")
        out[theme] = f"the lexicon finds {_theme(theme)} with {precision} and {recall}, against the comments' true themes"
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
