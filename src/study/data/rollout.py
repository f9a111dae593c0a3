"""A simulated rollout: the faster-response SLA going live team by team after the pilot.

The pilot (the randomized SLA experiment of :mod:`study.data.simulate`) halved the wait. Here the
same change goes live in staggered cohorts of teams over 26 weeks, with everything that makes a naive
before/after comparison wrong: a common drift (volume grows, satisfaction slips), day-of-week
seasonality, two sale peaks (618 in June, 11.11 in November) that double volume and slow replies, and early adopters that are
better teams to begin with. At scale the change speeds replies up less than in the pilot, and its
effect builds up over the first weeks after go-live.

Service, satisfaction and repeat purchase follow the pilot's process (the same constants), so the
rollout's true effects are known exactly: each ticket's expected outcome with and without the change,
averaged over the tickets of teams that had adopted (:func:`rollout_truth`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from study.data import simulate as pilot
from study.data.simulated_files import SimulatedStudy, write

DGP_VERSION = "rollout-1"
START = pd.Timestamp("2026-05-25")  # a Monday; the pilot ran from January to June
WEEKS = 26
# Cohorts adopt on these weeks (0 = the first week); the last cohort never adopts within the data.
COHORT_WEEKS = (6, 10, 14, 18)
ALL_AT_ONCE_WEEK = 13
NEVER_SHARE = 0.2
SPEEDUP_AT_SCALE = 1.6  # the pilot's SLA halved the wait (2.0); at scale replies come 1.6 times faster
RAMP_WEEKS = 4  # the speed-up builds up linearly over the first four weeks after go-live
SALE_PEAK_WEEKS = ("2026-06-15", "2026-11-09")  # the weeks of the 618 and Singles' Day (11.11) sales
SALE_PEAK_VOLUME = 2.0
SALE_PEAK_SLOWDOWN = 1.8  # replies take this many times longer in a sale-peak week
WEEKEND_VOLUME = 0.6
WEEKEND_SLOWDOWN = 1.3
TREND_LOG_MINUTES_PER_WEEK = 0.03  # volume grows faster than staffing: replies slow by about 3% a week
CSAT_TREND_PER_WEEK = -0.015  # satisfaction slips for reasons that have nothing to do with service
TEAM_SPEED_SPREAD = 0.3  # early adopters answer faster: log-minutes from -spread to +spread by adoption order
TEAM_CSAT_SPREAD = 0.1  # ... and their customers are a little happier
AGENTS_PER_TEAM = 4


def _team_table(rng: np.random.Generator, teams: int, staggered: bool) -> pd.DataFrame:
    """Teams in adoption order, with the week each adopts (``inf``: never) and its fixed traits."""
    order = np.arange(teams) / max(teams - 1, 1)  # 0 = the first to adopt
    if staggered:
        adopting = teams - int(round(NEVER_SHARE * teams))
        cohort = np.minimum(np.arange(teams) * len(COHORT_WEEKS) // max(adopting, 1), len(COHORT_WEEKS))
        week = np.array([COHORT_WEEKS[c] if c < len(COHORT_WEEKS) else np.inf for c in cohort])
    else:
        week = np.full(teams, float(ALL_AT_ONCE_WEEK))
    return pd.DataFrame({
        "team": [f"team-{i + 1:02d}" for i in rng.permutation(teams)],
        "adoption_week": week,
        "speed": TEAM_SPEED_SPREAD * (2 * order - 1) + rng.normal(0, 0.05, teams),
        "csat": TEAM_CSAT_SPREAD * (1 - 2 * order),
    })


def _ticket_times(rng: np.random.Generator, rows: int) -> pd.Series:
    """Ticket times over the 26 weeks: fewer at weekends, twice as many in the sale weeks."""
    days = pd.date_range(START, periods=7 * WEEKS, freq="D")
    weight = np.where(days.day_of_week >= 5, WEEKEND_VOLUME, 1.0)
    peak = np.isin(days - pd.to_timedelta(days.day_of_week, unit="D"), pd.to_datetime(SALE_PEAK_WEEKS))
    weight = weight * np.where(peak, SALE_PEAK_VOLUME, 1.0)
    day = rng.choice(len(days), size=rows, p=weight / weight.sum())
    seconds = rng.integers(0, 86_400, rows)
    return pd.Series(days[day] + pd.to_timedelta(seconds, unit="s"))


def simulate_rollout(rows: int = 30_000, seed: int = 2026, teams: int = 30, effect: bool = True,
                     staggered: bool = True, pre_trend: float = 0.0) -> SimulatedStudy:
    """Draw the tickets of a staggered rollout of the faster-response SLA, with the true effects.

    Parameters
    ----------
    rows : int
        Number of tickets over the 26 weeks from Monday 25 May 2026.
    seed : int
        Seed of the random generator; the same seed gives the same data.
    teams : int
        Number of teams. In adoption order, equal cohorts go live on Mondays of weeks 6, 10, 14 and 18;
        the last fifth never adopts within the data.
    effect : bool
        ``False`` draws the same data with a change that does nothing (for checks of the estimators'
        false-alarm rates).
    staggered : bool
        ``False``: every team goes live on the Monday of week 13 (the interrupted-time-series case:
        nobody is left as a comparison).
    pre_trend : float
        CSAT points per week by which a team's satisfaction climbs in the weeks before it adopts
        (0: parallel trends hold). A positive value breaks the assumption of the difference in
        differences, for checks of the pre-trend test.

    Returns
    -------
    SimulatedStudy
        The tickets (contract columns, with ``team`` and ``adopted_at``) and ``truth`` (:func:`rollout_truth`).
    """
    if rows < 1 or teams < 1:
        raise ValueError(f"rows and teams must be at least 1, got rows={rows}, teams={teams}")
    rng = np.random.default_rng(seed)
    team_table = _team_table(rng, teams, staggered)
    n_customers = max(1, int(rows / 1.6) + 10)
    customers = pilot._draw_customers(rng, n_customers)
    owner = np.sort(rng.integers(0, n_customers, rows))
    c = customers.iloc[owner].reset_index(drop=True)

    created_at = _ticket_times(rng, rows).sort_values(ignore_index=True)
    week = ((created_at - START).dt.days // 7).to_numpy()
    weekday = created_at.dt.day_of_week.to_numpy()
    monday = (START + pd.to_timedelta(7 * week, unit="D"))
    peak = np.isin(monday, pd.to_datetime(SALE_PEAK_WEEKS))
    team_of = rng.integers(0, teams, rows)
    team = team_table.iloc[team_of].reset_index(drop=True)
    adoption_week = team["adoption_week"].to_numpy()
    weeks_since = week - adoption_week  # -inf for teams that never adopt
    treated = weeks_since >= 0
    ramp = np.clip((weeks_since + 1) / RAMP_WEEKS, 0, 1) * treated
    log_speedup = np.log(SPEEDUP_AT_SCALE) * ramp if effect else np.zeros(rows)

    agent_skill = rng.uniform(-1, 1, teams * AGENTS_PER_TEAM)
    agent = team_of * AGENTS_PER_TEAM + rng.integers(0, AGENTS_PER_TEAM, rows)
    skill = agent_skill[agent]
    category = rng.choice(pilot.CATEGORIES, size=rows, p=pilot.CATEGORY_SHARE)
    channel = rng.choice(pilot.CHANNELS, size=rows, p=pilot.CHANNEL_SHARE)
    tier = np.asarray(c["loyalty_tier"].to_numpy(), dtype=str)

    log_minutes_without = (
        np.log(60.0) + pilot._lookup(category, pilot.CATEGORY_DELAY) + pilot._lookup(channel, pilot.CHANNEL_DELAY)
        + pilot._lookup(tier, pilot.TIER_DELAY) + team["speed"].to_numpy()
        + TREND_LOG_MINUTES_PER_WEEK * week + np.log(WEEKEND_SLOWDOWN) * (weekday >= 5)
        + np.log(SALE_PEAK_SLOWDOWN) * peak + rng.normal(0, pilot.RESPONSE_NOISE_SD, rows)
    )
    minutes = (pilot._response_minutes(log_minutes_without), pilot._response_minutes(log_minutes_without - log_speedup))

    p_resolved = pilot.RESOLVED_BASE + pilot._lookup(category, pilot.RESOLVED_CATEGORY) + pilot.RESOLVED_AGENT_SKILL * skill
    resolved = rng.random(rows) < p_resolved
    reopened = resolved & (rng.random(rows) < pilot.REOPEN_BASE + pilot.REOPEN_DEFECT * (category == "product_defect"))
    contacts = 1 + rng.poisson(0.3 + 0.8 * ~resolved + 0.5 * reopened)
    work_minutes = np.exp(np.log(90.0) + 0.5 * pilot._lookup(category, pilot.CATEGORY_DELAY) + rng.normal(0, 0.8, rows))

    drift = CSAT_TREND_PER_WEEK * week + team["csat"].to_numpy()
    drift = drift + pre_trend * np.where(np.isfinite(adoption_week) & ~treated, week - adoption_week, 0.0)
    csat_means = tuple(
        np.clip(pilot._csat_mean(np.log2(m / 60.0), resolved, reopened, category, channel, tier, skill,
                                 c["_csat_effect"].to_numpy()) + drift, 1.0, 5.0)
        for m in minutes
    )
    csat_all = 1 + rng.binomial(4, (csat_means[1] - 1) / 4)
    # Who answers depends on resolution only, which the change does not move: answering is unrelated to speed here.
    answer_chance = pilot.RESPONSE_BASE + pilot.RESPONSE_UNRESOLVED * (1 - resolved)
    answered = rng.random(rows) < answer_chance
    log2_hours = tuple(np.log2(m / 60.0) for m in minutes)
    propensity = c["_purchase_propensity"].to_numpy()
    repeat = rng.random(rows) < pilot._repeat_probability(csat_all, log2_hours[1], resolved, tier, propensity)
    days_to_next = np.where(repeat, np.minimum(pilot.FOLLOW_UP_DAYS, 1 + np.floor(rng.exponential(25.0, rows))),
                            pilot.FOLLOW_UP_DAYS).astype(int)
    adopted_at = START + pd.to_timedelta(np.where(np.isfinite(adoption_week), 7 * adoption_week, np.nan), unit="D")

    tickets = pd.DataFrame({
        "ticket_id": [f"R{i:07d}" for i in range(1, rows + 1)],
        "customer_id": c["customer_id"].to_numpy(),
        "team": team["team"].to_numpy(),
        "agent_id": [f"A{a + 1:03d}" for a in agent],
        "created_at": created_at.dt.floor("s").to_numpy(),
        "adopted_at": adopted_at,
        "channel": channel,
        "category": category,
        "loyalty_tier": tier,
        "first_response_minutes": np.round(minutes[1], 1),
        "resolution_minutes": np.round(np.where(resolved, minutes[1] + work_minutes * contacts, np.nan), 1),
        "resolved": resolved,
        "reopened": reopened,
        "contacts": contacts,
        "csat": pd.Series(csat_all, dtype="Int64").where(answered).array,
        "repeat_purchase": repeat,
        "days_to_next_purchase": days_to_next,
    })
    truth = rollout_truth(
        seed=seed, rows=rows, effect=effect, staggered=staggered, pre_trend=pre_trend, treated=treated,
        weeks_since=weeks_since, adopters=np.isfinite(adoption_week), minutes=minutes, csat_means=csat_means,
        answer_chance=answer_chance, team_table=team_table,
    )
    return SimulatedStudy(tickets=tickets, truth=truth)


def rollout_truth(*, seed, rows, effect, staggered, pre_trend, treated, weeks_since, adopters, minutes,
                  csat_means, answer_chance, team_table) -> dict:
    """True effects of the rollout on the tickets of teams that had adopted, exact in expectation.

    Each ticket has an expected outcome without the change and with it (``minutes``, ``csat_means``:
    pairs in that order). CSAT effects are weighted by each ticket's chance to answer the survey,
    which is what a comparison of answered surveys estimates; repeat purchase moves through CSAT and
    speed with the pilot's coefficients.
    """
    hours = tuple(m / 60.0 for m in minutes)
    log2_hours = tuple(np.log2(h) for h in hours)
    repeat_change = (pilot.REPEAT_PER_CSAT_POINT * (csat_means[1] - csat_means[0])
                     + pilot.REPEAT_PER_DOUBLING * (log2_hours[1] - log2_hours[0]))

    def att(mask):
        w = answer_chance[mask]
        return {
            "log2_response_hours": float(np.mean(log2_hours[1][mask] - log2_hours[0][mask])),
            "response_hours": float(np.mean(hours[1][mask] - hours[0][mask])),
            "csat": float(np.sum(w * (csat_means[1][mask] - csat_means[0][mask])) / np.sum(w)),
            "repeat_purchase": float(np.mean(repeat_change[mask])),
        }

    overall = att(treated) if treated.any() else dict.fromkeys(("log2_response_hours", "response_hours", "csat", "repeat_purchase"), 0.0)
    by_week = {int(k): att(treated & (weeks_since == k)) for k in np.unique(weeks_since[treated])}
    # What a naive comparison of adopting teams' answered surveys after go-live with those before expects.
    before, after = adopters & ~treated, adopters & treated
    naive_csat = (float(np.sum(answer_chance[after] * csat_means[1][after]) / np.sum(answer_chance[after])
                        - np.sum(answer_chance[before] * csat_means[0][before]) / np.sum(answer_chance[before]))
                  if before.any() and after.any() else float("nan"))
    cohorts = {}
    for week, group in team_table.groupby("adoption_week"):
        key = "never" if not np.isfinite(week) else str((START + pd.Timedelta(days=7 * int(week))).date())
        cohorts[key] = sorted(group["team"])
    return {
        "dgp_version": DGP_VERSION,
        "kind": "rollout",
        "seed": seed,
        "rows": rows,
        "effect": effect,
        "staggered": staggered,
        "pre_trend_csat_per_week": pre_trend,
        "rollout_att_log2_response_hours": overall["log2_response_hours"],
        "rollout_att_response_hours": overall["response_hours"],
        "rollout_att_csat": overall["csat"],
        "rollout_att_repeat_purchase": overall["repeat_purchase"],
        "rollout_att_by_event_week": by_week,
        "rollout_naive_bias_csat": naive_csat - overall["csat"],
        "rollout_speedup_at_full_ramp": SPEEDUP_AT_SCALE if effect else 1.0,
        "rollout_ramp_weeks": RAMP_WEEKS,
        "pilot_speedup": pilot.SLA_SPEEDUP,
        "cohorts": cohorts,
        "treated_tickets": int(treated.sum()),
        "notes": (
            "Effects of the change on the tickets of teams that had adopted it (average effect on the "
            "treated): log2_response_hours in doublings of the first response time (-1 = twice as fast), "
            "the scale on which teams' trends are parallel (a sale peak slows every team by the same "
            "factor, so a slow team loses more hours than a fast one); response_hours in hours; csat in "
            "points on the 1-5 scale, weighted by each ticket's chance to answer the survey; "
            "repeat_purchase in probability. rollout_att_by_event_week: the same by whole weeks since "
            "the team's go-live."
        ),
    }


def write_example(folder: str | Path, rows: int = 30_000, seed: int = 2026) -> tuple[Path, Path]:
    """Write the committed rollout sample, ``tickets.parquet`` and its ``truth.json``, into ``folder``.

    Returns
    -------
    tuple of Path
        The data file and the truth file.
    """
    return write(simulate_rollout(rows=rows, seed=seed), Path(folder) / "tickets.parquet")
