"""Benchmark: coverage of the 95% intervals of the study's estimates, on the default process and on processes that break an assumption.

    .venv/bin/python benchmarks/coverage_observational.py [--runs 1000] [--rows 6000] [--scenario all] [--workers 2]

A run is about ``--rows`` tickets: the customers of one simulation of ``--hands`` x ``--rows``
tickets (seed ``SEED_BASE[scenario] + batch``) are dealt into ``--hands`` hands, one per run (a
customer's tickets stay together). Customers are drawn independently, so the hands are independent
data sets given the simulation's 60 agents; every run is reproducible from (batch, hand) and the
figures do not depend on ``--workers``. Why hands and not one simulation per run: each simulation
draws new agents, and agents move the *level* of CSAT (the mean of 60 agents' skill has an SD of
0.0075 points); the weighted mean's standard error is clustered by customer, so it describes these
agents' tickets, and its truth is the mean CSAT given the agents. A hand's truth is its
simulation's ``csat_mean_all_tickets`` (over 300,000 tickets: off that mean by an SD of about 0.001,
against a standard error of 0.022). Measured
on 2,000 fresh simulations of 6,000 tickets instead, the weighted mean covered its own sample's mean
in 96.6% (the sample's ticket mix is conditioned on: conservative) and the mean over agent draws in
92.4% (the agents' spread is not in a customer-clustered SE); dealt into hands it covered 94.8%.
Slopes are not affected: agents move them only through chance correlations among 60 agents, or are
held fixed.

Each run records whether each 95% interval covers its truth (:func:`study.report.truth.expected_values`
of the simulation's truth):

- adjusted speed (direct), adjusted resolution and adjusted total speed
  (:func:`study.regression.models.satisfaction_drivers`, agents held fixed);
- randomized speed (:func:`study.regression.causal.randomized_speed_effect`, IV) against its truth
  among respondents (``csat_per_doubling_randomized_respondents``: faster replies are answered less
  often, so the respondents' estimand is about -0.143, not the structural -0.15; under the direct SLA
  effect it is the part due to speed alone);
- the indirect effect of speed on repeat purchase through CSAT
  (:func:`study.regression.mediation.speed_through_satisfaction`; percentile cluster bootstrap with
  ``--replicates`` 199 replicates instead of the study's 2,000, to keep a run cheap). With B draws
  a percentile interval covers at most 0.95 (B - 1) / (B + 1) even when the bootstrap is exact
  (numpy's linear quantiles; ``tests/coverage_rules.py``): 94.05% at 199 draws, 94.91% at the
  study's 2,000, so the figure here is up to 0.9 pp below the study's;
- the inverse-probability-weighted mean CSAT of all tickets and the weighted speed slope
  (:func:`study.regression.nonresponse.survey_nonresponse`).

What each scenario must show (the script exits with an error when one fails):

``default``, ``heteroskedastic``
    Every coverage within 95% +/- 1.5 pp (issue 13's acceptance band). At 1,000 runs the Monte-Carlo
    SE of a 95% coverage is 0.69 pp, so the band is +/- 2.2 SE: a true 95% falls outside it with
    probability 0.024 per estimate (printed; 0.002 at 2,000 runs), a true 93% with 0.71, a true
    92% with 0.96. The exclusion check's false
    alarms (a channel other than survey response "moved", Holm at 5%) stay at or below 5%.
``agent-confounding``
    With ``agent_id`` in the data every coverage lies within the band: the adjusted models, the
    mediation and the weighted slope all hold agents fixed. The same tickets without ``agent_id``:
    the adjusted coverages fall (printed; the resolution effect must fall below the band), and in
    every run the model's notes say agents are not held fixed (``agent not held fixed ...``), while
    with ``agent_id`` no run says so.
``sla-direct-effect``
    The SLA lowers CSAT by 0.05 directly (and resolution by 1 pp, the QA score by 1 point): the
    randomized estimate misses its speed-only truth more often (printed) and the report flags the
    violated exclusion restriction (:func:`study.regression.iv_checks.sla_side_effects` ``moved``
    not empty) in at least ``FLAG_FLOOR`` (85%) of runs. Why 85%: on 6,000 tickets (some 3,750
    customers) the QA score's arm difference of -1 point has a customer-clustered SE of about 0.26
    (SD 9.9), z = 3.9; Holm tests it first or second (after survey response, which the faster
    replies move by some 2.5 pp, z = 2), at 0.05 / 6 or 0.05 / 5 (|z| > 2.64 or 2.58): power about
    0.90, plus what resolution (-1 pp, z = 0.9) adds. The floor is five Monte-Carlo SEs (0.95 pp at
    1,000 runs) below 0.90. With fewer rows the power falls (about 0.57 at 3,000): keep ``--rows``
    at 6,000 or more for this scenario.

Coverages are printed with their Monte-Carlo SE, binomial and clustered by simulation ("by sim":
hands of one simulation share its agents, so their coverages can move together), the mean error
(estimate - truth) and the ratio of the mean reported SE to the SD of the estimates across runs.
"""

from __future__ import annotations

import os

# One BLAS thread per worker: the workers are the parallelism (set before numpy is imported).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import multiprocessing
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from study.core.results import Estimate
from study.data import simulate
from study.data.dataset import from_frame
from study.regression import causal, iv_checks, mediation, models, nonresponse
from study.report.truth import expected_values

NOMINAL, BAND = 0.95, 0.015  # issue 13: coverage within 95% +/- 1.5 pp
FLAG_FLOOR = 0.85  # share of sla-direct-effect runs that must flag the exclusion restriction (see the docstring)
FALSE_ALARM_CEILING = 0.05  # Holm's family-wise rate over the channels the SLA does not move
SEED_BASE = {"default": 1_000_000, "agent-confounding": 2_000_000, "sla-direct-effect": 3_000_000, "heteroskedastic": 4_000_000}

# (label, estimate name); the adjusted three are also fitted without agent_id under agent confounding.
ESTIMATES = [
    ("adjusted speed (direct)", "csat_per_doubling_adjusted"),
    ("adjusted resolution", "csat_resolved_adjusted"),
    ("adjusted speed (total)", "csat_per_doubling_total_adjusted"),
    ("randomized speed (IV)", "csat_per_doubling_randomized"),
    ("indirect via CSAT (bootstrap)", "repeat_per_doubling_indirect_via_csat"),
    ("IPW mean CSAT", "csat_mean_ipw"),
    ("IPW speed slope", "csat_per_doubling_ipw"),
]
ADJUSTED = [name for _, name in ESTIMATES[:3]]
WITHOUT_AGENTS = "without agent_id: "

# What each scenario must show: estimates whose coverage must lie in the band, and its other checks.
MUST_COVER = {
    "default": [name for _, name in ESTIMATES],
    "heteroskedastic": [name for _, name in ESTIMATES],
    "agent-confounding": [name for _, name in ESTIMATES],
    "sla-direct-effect": ["csat_mean_ipw"],
}
WHY_NOT_ASSERTED = {
    "sla-direct-effect": ("the SLA's direct effect also confounds the observational speed slopes (the arm is not in "
                          "those models): printed, not asserted"),
}


def _record(estimate, truth: float) -> tuple[bool, float, float]:
    """(covered, estimate - truth, SE) of one interval."""
    return bool(estimate.covers(truth)), float(estimate.value - truth), float(estimate.se or np.nan)


def one_batch(job: tuple[str, int, int, int, int, int]) -> list[dict]:
    """Simulate one batch, deal its customers into hands, fit every model on each hand.

    Returns, per hand, what each interval did (``(covered, estimate - truth, SE)``) and whether the
    report flags the scenario.
    """
    scenario, batch, hands, used, rows, replicates = job
    seed = SEED_BASE[scenario] + batch
    warnings.simplefilter("ignore")
    study = simulate.simulate(rows=rows * hands, seed=seed, scenario=scenario)
    truth = expected_values(study.truth)
    hand = pd.factorize(study.tickets["customer_id"])[0] % hands
    out = []
    for h in range(used):
        tickets = study.tickets[hand == h].reset_index(drop=True)
        out.append({**one_hand(scenario, tickets, truth, replicates, seed * 1_000 + h), "batch": batch})
    return out


def one_hand(scenario: str, tickets: pd.DataFrame, truth: dict, replicates: int, seed: int) -> dict:
    """Fit every model on one hand's tickets; record each interval against the truth and the report's flags."""
    data = from_frame(tickets, "simulation")
    found: dict[str, Estimate] = {}
    drivers = models.satisfaction_drivers(data)
    found.update({e.name: e for e in drivers.estimates})
    randomized = causal.randomized_speed_effect(data)
    if isinstance(randomized, Estimate):
        found[randomized.name] = randomized
    found.update({e.name: e for e in mediation.speed_through_satisfaction(data, replicates=replicates, seed=seed).estimates})
    found.update({e.name: e for e in nonresponse.survey_nonresponse(data).estimates})
    out = {name: _record(found[name], truth[name]) for _, name in ESTIMATES if name in found}
    side = iv_checks.sla_side_effects(data)
    out["flag: exclusion"] = bool(getattr(side, "moved", []))
    out["flag: agents not held fixed"] = _agents_not_held(drivers)
    if scenario == "agent-confounding":
        plain = models.satisfaction_drivers(from_frame(tickets.drop(columns="agent_id"), "simulation"))
        out.update({WITHOUT_AGENTS + name: _record(plain.get(name), truth[name]) for name in ADJUSTED})
        out["flag without agent_id: agents not held fixed"] = _agents_not_held(plain)
    return out


def _agents_not_held(drivers) -> bool:
    """Whether the model says agents are not held fixed (its notes, as the report prints them) and holds none."""
    said = any(note.startswith("agent not held fixed") for note in drivers.notes)
    return said and not drivers.fixed_effects


def outside_band_probability(runs: int, coverage: float = NOMINAL, band: float = BAND) -> float:
    """Probability that a true ``coverage`` gives an observed share outside ``NOMINAL +/- band`` over ``runs`` runs."""
    low, high = int(np.ceil(runs * (NOMINAL - band) - 1e-9)), int(np.floor(runs * (NOMINAL + band) + 1e-9))
    return float(stats.binom.cdf(low - 1, runs, coverage) + stats.binom.sf(high, runs, coverage))


def summarize(scenario: str, results: list[dict], seconds: float, workers: int) -> list[str]:
    """Print the scenario's table; return the failed checks."""
    runs = len(results)
    failures = []
    print(f"\n{scenario}: {runs:,} runs, {seconds:.0f} s (about {seconds * workers / runs:.2f} s of one core per run)")
    print(f"  {'estimate':44s} {'coverage':>8s} {'MC SE':>6s} {'by sim':>6s} {'mean error':>10s} {'SE/SD':>6s}  check")
    batches = np.array([r["batch"] for r in results])
    labels = {name: label for label, name in ESTIMATES}
    keys = [name for _, name in ESTIMATES] + [k for k in results[0] if k.startswith(WITHOUT_AGENTS)]
    for key in keys:
        records = [r[key] for r in results if key in r]
        if not records:
            print(f"  {labels.get(key, key):44s} (not estimated)")
            continue
        covered = np.array([c for c, _, _ in records], dtype=float)
        errors = np.array([e for _, e, _ in records])
        ses = np.array([s for _, _, s in records])
        share = covered.mean()
        mc_se = np.sqrt(share * (1 - share) / len(records))
        by_simulation = _clustered_se(covered, batches[[key in r for r in results]])
        ratio = np.nanmean(ses) / errors.std(ddof=1)
        name = key.removeprefix(WITHOUT_AGENTS)
        label = (WITHOUT_AGENTS if key.startswith(WITHOUT_AGENTS) else "") + labels[name]
        check = ""
        if key in MUST_COVER[scenario]:
            ok = len(records) == runs and abs(share - NOMINAL) <= BAND + 1e-12
            check = "ok (95 +/- 1.5)" if ok else "FAILED (95 +/- 1.5)"
            if not ok:
                failures.append(f"{scenario}: {label} covers {share:.1%}")
        elif key == WITHOUT_AGENTS + "csat_resolved_adjusted":
            ok = share < NOMINAL - BAND
            check = "falls, as it must" if ok else "FAILED: does not fall below the band"
            if not ok:
                failures.append(f"{scenario}: {label} covers {share:.1%}, not below {NOMINAL - BAND:.1%}")
        else:
            check = "printed"
        print(f"  {label:44s} {share:8.1%} {mc_se:6.1%} {by_simulation:6.1%} {errors.mean():+10.4f} {ratio:6.2f}  {check}")
    if scenario in WHY_NOT_ASSERTED:
        print(f"  ({WHY_NOT_ASSERTED[scenario]})")
    failures += _flags(scenario, results)
    print(f"  a true 95% coverage falls outside 95 +/- 1.5 pp in {runs:,} runs with probability "
          f"{outside_band_probability(runs):.3f} per estimate")
    return failures


def _clustered_se(covered: np.ndarray, batches: np.ndarray) -> float:
    """Monte-Carlo SE of a coverage with runs clustered by simulation (hands share its agents): CR1 of a mean."""
    groups = np.unique(batches)
    if len(groups) < 2:
        return float("nan")
    sums = np.array([np.sum(covered[batches == b] - covered.mean()) for b in groups])
    return float(np.sqrt(len(groups) / (len(groups) - 1) * np.sum(sums**2)) / len(covered))


def _flags(scenario: str, results: list[dict]) -> list[str]:
    runs, failures = len(results), []

    def share_of(key: str) -> tuple[float, float]:
        share = float(np.mean([r[key] for r in results]))
        return share, float(np.sqrt(share * (1 - share) / runs))

    exclusion, exclusion_se = share_of("flag: exclusion")
    agents, _ = share_of("flag: agents not held fixed")
    if scenario == "sla-direct-effect":
        ok = exclusion >= FLAG_FLOOR
        print(f"  exclusion restriction flagged (SLA moved another channel): {exclusion:.1%} (MC SE {exclusion_se:.1%}); "
              f"floor {FLAG_FLOOR:.0%}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"{scenario}: exclusion flagged in {exclusion:.1%} of runs, below {FLAG_FLOOR:.0%}")
    else:
        # Holm at 5% over the channels keeps false alarms at or below 5%: allow the binomial 99.5% quantile.
        ceiling = stats.binom.ppf(0.995, runs, FALSE_ALARM_CEILING) / runs
        ok = exclusion <= ceiling
        print(f"  exclusion flagged (false alarms; the SLA moves only speed here): {exclusion:.1%} "
              f"(MC SE {exclusion_se:.1%}); ceiling {ceiling:.1%}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"{scenario}: exclusion falsely flagged in {exclusion:.1%} of runs")
    ok = agents == 0
    print(f"  agents said not held fixed, agent_id present: {agents:.1%}: {'ok' if ok else 'FAILED'}")
    if not ok:
        failures.append(f"{scenario}: agents said not held fixed in {agents:.1%} of runs with agent_id")
    if scenario == "agent-confounding":
        without, _ = share_of("flag without agent_id: agents not held fixed")
        ok = without == 1
        print(f"  agents said not held fixed, agent_id dropped: {without:.1%} (must be 100%): {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"{scenario}: without agent_id the notes say agents are not held fixed in only {without:.1%}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--scenario", default="all", choices=["all", *SEED_BASE])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hands", type=int, default=50, help="runs dealt from one simulation (they share its agents)")
    parser.add_argument("--replicates", type=int, default=199, help="mediation bootstrap replicates per run")
    args = parser.parse_args()
    scenarios = list(SEED_BASE) if args.scenario == "all" else [args.scenario]
    print(f"{args.runs:,} runs of about {args.rows:,} tickets per scenario ({args.hands} runs per simulation), "
          f"{args.workers} workers, {args.replicates} bootstrap replicates for the indirect effect")
    failures, started = [], time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for scenario in scenarios:
            begun = time.perf_counter()
            batches = -(-args.runs // args.hands)
            jobs = [(scenario, b, args.hands, min(args.hands, args.runs - b * args.hands), args.rows, args.replicates)
                    for b in range(batches)]
            results = [hand for batch in pool.imap(one_batch, jobs) for hand in batch]
            failures += summarize(scenario, results, time.perf_counter() - begun, args.workers)
    print(f"\ntotal: {time.perf_counter() - started:.0f} s")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
