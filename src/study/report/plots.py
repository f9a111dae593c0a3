"""Figures in one house style: seaborn, colour-blind-safe palette, titles that state the finding."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from study.core.results import Estimate
from study.data.descriptives import group_label
from study.report import figures, titles

PALETTE = "colorblind"


def set_style() -> None:
    """Apply the house style to every figure that follows."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    pd.set_option("display.max_colwidth", None)  # tables of labels and meanings must not be cut
    # Labels come from the data: "$" in a category name must print as "$", not start TeX math
    # (an unbalanced formula would stop the notebook).
    # A title at a fixed height: placed automatically, matplotlib measures every tick label of the panel (and of
    # the panels sharing its axis) at each draw to lift it above them, a quarter of a multi-panel figure's drawing
    # time; no figure here has labels above its panels, so the picture is the same to the pixel.
    plt.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96, "figure.figsize": (8, 4.2), "axes.titleweight": "bold",
                         "text.parse_math": False, "axes.titley": 1.0})
    warnings.filterwarnings("ignore", category=FutureWarning, module="seaborn")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="seaborn")
    figures.install()  # in a kernel, every figure also carries its alt text and a phone-sized copy


def response_time_distribution(histogram: pd.DataFrame, median: float):
    """Histogram of first response time on a log axis, with the median marked.

    Parameters
    ----------
    histogram : pandas.DataFrame
        ``left``, ``right`` (minutes) and ``tickets`` per bin (:attr:`study.data.overview.Overview.histogram`).
    median : float
        Median first response time in minutes.
    """
    fig, ax = plt.subplots()
    ax.bar(histogram["left"], histogram["tickets"], width=histogram["right"] - histogram["left"], align="edge",
           color=sns.color_palette(PALETTE)[0], edgecolor="white", linewidth=0.5)
    ax.set_xscale("log")
    ax.axvline(median, color="black", linestyle="--", linewidth=1)
    ax.set(xlabel="first response time (minutes, log scale)", ylabel="tickets",
           title=f"Half of the tickets get a first reply within {median:.0f} minutes")
    fig.tight_layout()
    return figures.describe(fig, f"Histogram of first response times of {int(histogram['tickets'].sum()):,} tickets "
                                 f"on a log scale; the dashed line marks the median, {median:.0f} minutes.")


def outcome_by_group(summary: pd.DataFrame, group: str, title: str):
    """Two panels: mean CSAT and repeat-purchase rate per group, with 95% intervals (one for a table with one of them).

    ``summary`` is an outcomes-by-group table (:attr:`study.data.overview.Overview.by_band`) output.
    """
    panels = [(metric, unit, scale) for metric, unit, scale in
              [("csat", "mean CSAT (1-5)", 1), ("repeat_purchase", "repeat purchase (%)", 100)]
              if f"{metric} mean" in summary.columns]  # a data set without an outcome has no panel for it
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    x = np.arange(len(summary))
    for ax, (metric, unit, scale) in zip(axes[0], panels):
        mean = summary[f"{metric} mean"] * scale
        half = summary[f"{metric} ci half-width"] * scale
        ax.errorbar(x, mean, yerr=half, fmt="o", capsize=4, color=sns.color_palette(PALETTE)[0 if metric == "csat" else 1])
        ax.set_xticks(x, [group_label(summary.index.name, i) for i in summary.index], rotation=20, ha="right")
        ax.set(xlabel=group, ylabel=unit)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return figures.describe(fig, _by_group_words(summary, group, panels))


def _by_group_words(summary: pd.DataFrame, group: str, panels: list) -> str:
    """'Mean CSAT (1-5) by first response time, with 95% intervals: 4.06 (under 15 min) to 2.59 (over 24 h); ...'."""
    ends = [group_label(summary.index.name, i) for i in (summary.index[0], summary.index[-1])]
    parts = []
    for metric, unit, _ in panels:
        first, last = summary[f"{metric} mean"].iloc[0], summary[f"{metric} mean"].iloc[-1]
        say = (lambda v: f"{v:.1%}") if metric == "repeat_purchase" else (lambda v: f"{v:.2f}")
        parts.append(f"{unit.replace(' (%)', '')} {say(first)} ({ends[0]}) to {say(last)} ({ends[1]})")
    return f"Outcomes by {group}, each with its 95% interval: " + "; ".join(parts) + "."


def estimate_comparison(estimates: list[Estimate], title: str, xlabel: str, truth: float | None = None, scale: float = 1.0):
    """Point estimates with their intervals, one row each; a dashed line marks the true value if known."""
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.7 * len(estimates)))
    y = np.arange(len(estimates))[::-1]
    values = np.array([e.value for e in estimates]) * scale
    low = values - np.array([e.ci_low for e in estimates]) * scale
    high = np.array([e.ci_high for e in estimates]) * scale - values
    colors = sns.color_palette(PALETTE, len(estimates))
    for yi, v, lo, hi, c in zip(y, values, low, high, colors):
        ax.errorbar(v, yi, xerr=[[lo], [hi]], fmt="o", capsize=5, color=c, markersize=8)
    ax.axvline(0, color="grey", linewidth=1)
    if truth is not None:
        ax.axvline(truth * scale, color="black", linestyle="--", linewidth=1)
        ax.annotate("true value (simulation)", xy=(truth * scale, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.set_ylim(-0.6, len(estimates) - 0.4)
    ax.set_yticks(y, [_wrap(label, 30) for label in distinct_labels([e.label for e in estimates])])
    ax.set_xlabel(xlabel)
    ax.set_title(title, pad=18 if truth is not None else 6)
    fig.tight_layout()
    digits, unit = (1, " pp") if scale == 100 else (2, "")
    said = "; ".join(f"{label} {v:+.{digits}f}{unit} ({e.ci_level:.0%} CI {e.ci_low * scale:+.{digits}f} to "
                     f"{e.ci_high * scale:+.{digits}f})" for label, v, e in zip([e.label for e in estimates], values, estimates))
    true = f" The simulation's true value, {truth * scale:+.{digits}f}{unit}, is a dashed line." if truth is not None else ""
    return figures.describe(fig, f"{xlabel[:1].upper()}{xlabel[1:]}, each estimate with its interval: {said}.{true}")


def distinct_labels(labels: list[str]) -> list[str]:
    """Labels without the words they all start with, which the axis title already says.

    ``["CSAT per doubling, naive", "CSAT per doubling, adjusted"]`` becomes ``["naive", "adjusted"]``;
    labels that share fewer than two leading words, or a lone label, are kept whole.
    """
    if len(labels) < 2:
        return list(labels)
    split = [label.split() for label in labels]
    shared = 0
    while all(len(words) > shared + 1 for words in split) and len({words[shared] for words in split}) == 1:
        shared += 1
    if shared < 2:
        return list(labels)
    return [" ".join(words[shared:]).lstrip(",;:- ") or label for words, label in zip(split, labels)]


def _wrap(text: str, width: int = 42) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def dose_response(curve: pd.DataFrame, title: str, truth_slope: float | None = None):
    """CSAT difference from a one-hour reply along response time, with its 95% band (log-scaled hours)."""
    fig, ax = plt.subplots()
    color = sns.color_palette(PALETTE)[0]
    ax.fill_between(curve["hours"], curve["ci_low"], curve["ci_high"], color=color, alpha=0.25, linewidth=0,
                    label="95% confidence band")
    ax.plot(curve["hours"], curve["effect"], color=color, linewidth=2, label="estimate (spline)")
    if truth_slope is not None:
        ax.plot(curve["hours"], truth_slope * np.log2(curve["hours"]), color="black", linestyle="--", linewidth=1,
                label="true effect (simulation)")
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xscale("log", base=2)
    ticks = [h for h in (1 / 6, 0.5, 1, 2, 4, 8, 24, 48) if curve["hours"].min() <= h <= curve["hours"].max()]
    ax.set_xticks(ticks, [f"{h * 60:.0f} min" if h < 1 else f"{h:g} h" for h in ticks])
    ax.set(xlabel="first response time (log scale)", ylabel="CSAT difference from a 1-hour reply", title=title)
    ax.legend(frameon=False, loc="upper right")
    fig.tight_layout()
    points = curve.set_index("hours")["effect"]
    said = "; ".join(f"{label} {points.loc[h]:+.2f}" for h, label in ((0.25, "at 15 minutes"), (4.0, "at 4 hours"))
                     if h in points.index)
    return figures.describe(fig, "CSAT difference from a one-hour first reply along first response time, with its 95% "
                                 f"band{': ' + said if said else ''} points.")


def importance_performance(table: pd.DataFrame, title: str):
    """Importance (share of explained CSAT variance) against current performance (0-100), one point per attribute.

    Attributes in the upper left (a large share, performing poorly today) are the candidates to study; the
    shares are descriptive, so the chart does not say that improving an attribute would move CSAT.
    ``table`` is :attr:`study.regression.key_drivers.KeyDrivers.table`.
    """
    fig, ax = plt.subplots(figsize=(8, 5))
    share = table["share_of_explained"] * 100
    ax.scatter(table["performance"], share, s=90, color=sns.color_palette(PALETTE)[0], zorder=3)
    for _, row in table.assign(share=share).iterrows():
        right_half = row["performance"] > 52  # labels of points on the right go left, so none leaves the axes
        ax.annotate(row["label"], (row["performance"], row["share"]), xytext=(-6 if right_half else 6, 4),
                    textcoords="offset points", fontsize=9, ha="right" if right_half else "left")
    mean_performance, mean_share = table["performance"].mean(), share.mean()
    ax.axvline(mean_performance, color="grey", linestyle=":", linewidth=1)
    ax.axhline(mean_share, color="grey", linestyle=":", linewidth=1)
    ax.annotate("average importance", (1, mean_share), xytext=(0, 3), textcoords="offset points", fontsize=8, color="grey")
    ax.annotate("large share, weaker today (descriptive)", (1, 0.97), xycoords=("data", "axes fraction"), va="top",
                fontsize=8, color="grey", style="italic")
    ax.set_xlim(0, 105)
    ax.set_ylim(0, max(share.max() * 1.15, 5))
    ax.set(xlabel="current performance (0-100, higher is better)", ylabel="importance (% of explained CSAT variance)",
           title=title)
    fig.tight_layout()
    ranked = table.sort_values("share_of_explained", ascending=False)
    said = "; ".join(f"{row['label']} {row['share_of_explained']:.0%} at performance {row['performance']:.0f}"
                     for _, row in ranked.iterrows())
    return figures.describe(fig, "Each service attribute's share of the explained CSAT variation (descriptive) against "
                                 f"its performance today (0-100): {said}.")


def residuals_by_fitted(fit, bins: int = 20):
    """Mean residual per bin of fitted values, with a 95% interval: a flat line at zero means no missed curvature."""
    frame = pd.DataFrame({"fitted": np.asarray(fit.fittedvalues), "residual": np.asarray(fit.resid)})
    frame["bin"] = pd.qcut(frame["fitted"], bins, duplicates="drop")
    summary = frame.groupby("bin", observed=True).agg(fitted=("fitted", "mean"), mean=("residual", "mean"),
                                                      sd=("residual", "std"), n=("residual", "size"))
    fig, ax = plt.subplots()
    ax.errorbar(summary["fitted"], summary["mean"], yerr=1.96 * summary["sd"] / np.sqrt(summary["n"]), fmt="o", capsize=3)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(xlabel="fitted CSAT", ylabel="mean residual (CSAT points)",
           title=f"Residuals by fitted value: largest bin mean {summary['mean'].abs().max():.2f} points")
    fig.tight_layout()
    return figures.describe(fig, f"Mean residual of the adjusted CSAT model in {len(summary)} bins of fitted CSAT, with "
                                 f"95% intervals; the largest bin mean is {summary['mean'].abs().max():.2f} points from zero.")


def calibration(observed: pd.Series, predicted: np.ndarray, bins: int = 10):
    """Observed share against mean predicted probability per decile of prediction: a logit's calibration."""
    frame = pd.DataFrame({"observed": np.asarray(observed, dtype=float), "predicted": np.asarray(predicted)})
    frame["bin"] = pd.qcut(frame["predicted"], bins, duplicates="drop")
    summary = frame.groupby("bin", observed=True).agg(predicted=("predicted", "mean"), observed=("observed", "mean"))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.plot(summary["predicted"], summary["observed"], "o-")
    top = max(summary["predicted"].max(), summary["observed"].max()) * 1.1
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="mean predicted probability", ylabel="observed share",
           title=f"Calibration: worst decile off by {(summary['observed'] - summary['predicted']).abs().max() * 100:.1f} pp")
    fig.tight_layout()
    return figures.describe(fig, f"Observed share against mean predicted probability in {len(summary)} groups of "
                                 "predictions, beside the diagonal of perfect calibration; the worst group is off by "
                                 f"{(summary['observed'] - summary['predicted']).abs().max() * 100:.1f} percentage points.")


def lift_label(effect, effects: list) -> str:
    """A row's label: the metric, and its arms when the figure compares more than one pair of arms
    ("converted: treatment_a vs control"), so that no two rows read the same."""
    name = effect.label or effect.metric
    if len({(e.treatment, e.control) for e in effects}) > 1:
        return f"{name}: {effect.treatment} vs {effect.control}"
    return name


def lift_comparison(effects: list, title: str):
    """Relative lift of each metric with its 95% interval (:class:`study.ab.abstats.Effect`), in percent."""
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.7 * len(effects)))
    y = np.arange(len(effects))[::-1]
    colors = sns.color_palette(PALETTE, len(effects))
    for yi, effect, color in zip(y, effects, colors):
        value = effect.lift * 100
        ax.errorbar(value, yi, xerr=[[value - effect.lift_ci_low * 100], [effect.lift_ci_high * 100 - value]],
                    fmt="o", capsize=5, color=color, markersize=8)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(y, [_wrap(lift_label(e, effects)) for e in effects])
    ax.set_ylim(-0.6, len(effects) - 0.4)
    ax.set(xlabel="relative lift, treatment versus control (%)", title=title)
    fig.tight_layout()
    said = "; ".join(f"{lift_label(e, effects)} {e.lift:+.1%} ({e.lift_ci_low:+.1%} to {e.lift_ci_high:+.1%})"
                     for e in effects)
    return figures.describe(fig, f"Relative lift of each metric, treatment versus control, with its 95% interval: {said}.")


def speed_estimates(result, truth_slope: float | None = None):
    """Naive, adjusted and randomized CSAT slopes of notebook 02 side by side (nothing when the models were skipped).

    Parameters
    ----------
    result : study.regression.satisfaction.SatisfactionStudy
    truth_slope : float, optional
        The simulation's true slope, drawn as a line.
    """
    if not result.has("drivers"):
        return None
    naive, adjusted = result.drivers.naive, result.drivers.get("csat_per_doubling_adjusted")
    return estimate_comparison(
        [e for e in (naive, adjusted, result.randomized) if e], title=titles.title_naive_adjusted(naive, adjusted),
        xlabel="change in CSAT (1-5) per doubling of first response time", truth=truth_slope,
    )


def repeat_estimates(result):
    """Total and direct effect of speed on repeat purchase (notebook 03), in percentage points; nothing when skipped."""
    if not result.logits.complete:
        return None
    total, direct = result.logits.get("repeat_per_doubling_total"), result.logits.get("repeat_per_doubling_direct")
    return estimate_comparison(
        [total, direct], title=titles.title_repeat(total, direct),
        xlabel="change in repeat purchase (percentage points) per doubling of first response time", scale=100,
    )



def sensitivity_contour(headline, title: str | None = None, multiples: tuple[float, ...] = (1.0,)):
    """Bias-adjusted estimate over the strength of a hidden confounder, with zero and the measured confounders marked.

    Contours of the estimate once a hidden factor explaining ``r2dz_x`` of the exposure's residual
    variance and ``r2yz_dx`` of CSAT's is taken out (Cinelli & Hazlett 2020); the dashed red line is
    where the estimate reaches zero; diamonds mark hidden factors as strong as each measured
    confounder (``multiples`` times as strong).

    Parameters
    ----------
    headline : study.regression.sensitivity.OLSHeadline
        One headline of :func:`study.regression.sensitivity.satisfaction_sensitivity`.
    title : str, optional
        By default the robustness value in words.
    multiples : tuple of float
        Which multiples of the benchmark bounds to mark (those in the bounds table).
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    result, exposure = headline.result, headline.exposure
    x, y, values = result.contour()
    fig, ax = plt.subplots(figsize=(10.5, 6))
    # Levels over the estimate's own range (and as far again past zero), not the far corner's extremes.
    size = abs(result.estimate)
    levels = MaxNLocator(10).tick_values(max(values.min(), -2 * size), min(values.max(), 2 * size))
    lines = ax.contour(x, y, values, levels=levels, colors="grey", linewidths=0.8, negative_linestyles="solid")
    ax.clabel(lines, fontsize=8, fmt="%+.2f")
    handles = []
    if values.min() < 0 < values.max():
        ax.contour(x, y, values, levels=[0.0], colors="#d62728", linewidths=2, linestyles="--")
        handles.append(Line2D([], [], color="#d62728", linestyle="--", linewidth=2, label="estimate erased (0)"))
    handles.append(ax.scatter([0], [0], marker="^", color="black", s=70, clip_on=False, zorder=4,
                              label=f"as estimated ({result.estimate:+.2f})"))
    rv = result.robustness_value
    if rv < x[-1]:
        handles.append(ax.scatter([rv], [rv], marker="o", color="black", s=30, zorder=4,
                                  label=f"robustness value ({rv:.1%} of both)"))
    bounds = result.bounds.dropna(subset=["r2dz_x"])
    bounds = bounds[bounds["kd"].isin(multiples) & (bounds["r2dz_x"] <= x[-1]) & (bounds["r2yz_dx"] <= y[-1])]
    colors = sns.color_palette(PALETTE, max(len(bounds), 1))
    for color, row in zip(colors, bounds.itertuples()):
        times = "" if row.kd == row.ky == 1 else f"{row.kd:g} times " if row.kd == row.ky else f"{row.kd:g}/{row.ky:g} times "
        handles.append(ax.scatter([row.r2dz_x], [row.r2yz_dx], marker="D", color=color, s=45, zorder=5,
                                  edgecolor="black", linewidth=0.5,
                                  label=f"{times}as strong as {headline.benchmark_words(row.benchmark)} "
                                        f"({row.adjusted_estimate:+.2f})"))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9, frameon=False,
              title="hidden factor", title_fontsize=9)
    ax.set(xlim=(0, x[-1]), ylim=(0, y[-1]),
           xlabel=f"share of {exposure}'s residual variance the hidden factor explains",
           ylabel="share of CSAT's residual variance the hidden factor explains",
           title=title or _wrap(f"A hidden factor would have to explain {rv:.1%} of both {exposure} and CSAT "
                                "to erase the estimate", 60))
    fig.tight_layout()
    return figures.describe(fig, f"Contours of the adjusted estimate ({result.estimate:+.2f}) for every strength of a "
                                 f"hidden confounder: one explaining {rv:.1%} of the residual variance of both "
                                 f"{exposure} and CSAT would erase it; diamonds mark hidden factors as strong as the "
                                 "measured confounders.")
