"""Record the Callaway-Sant'Anna estimate of a fixed simulated team x week panel (run once, by hand).

The rollout's estimator is Gardner's two-stage DiD through pyfixest. A second well-kept library,
``differences`` (Callaway and Sant'Anna's ATT(g, t), simple aggregation), is run here once on a fixed
panel, and its average effect and standard error are stored in ``tests/fixtures/rollout_differences.json``
with the panel itself (``tests/fixtures/rollout_differences_panel.csv``); ``tests/test_rollout_did.py``
checks that the project's estimate agrees with it. ``differences`` is not a project dependency: only this
script imports it.

Run from the repository root::

    python benchmarks/rollout_differences_fixture.py
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SEED, TEAMS, WEEKS = 20261130, 40, 20


def panel(seed: int = SEED) -> pd.DataFrame:
    """One cell per team and week: team and week effects, cohorts adopting in weeks 6, 10 and 14 (a quarter
    never), an effect of 0.30 growing by 0.02 a week since adoption, noise with SD 0.3."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([6, 10, 14, 0], size=TEAMS)
    team_fe = rng.normal(4.0, 0.3, TEAMS) - 0.02 * cohort
    week_fe = -0.01 * np.arange(WEEKS) + rng.normal(0, 0.1, WEEKS)
    team, week = np.meshgrid(np.arange(TEAMS), np.arange(WEEKS), indexing="ij")
    team, week = team.ravel(), week.ravel()
    g = cohort[team]
    treat = (g > 0) & (week >= g)
    effect = np.where(treat, 0.30 + 0.02 * (week - g), 0.0)
    y = team_fe[team] + week_fe[week] + effect + rng.normal(0, 0.3, team.size)
    return pd.DataFrame({"team": team, "period": week, "cohort": g, "treat": treat.astype(int), "y": y})


def main() -> None:
    from differences import ATTgt

    cells = panel()
    data = cells.assign(cohort=cells["cohort"].where(cells["cohort"] > 0)).set_index(["team", "period"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=data, cohort_column="cohort")
        att.fit(formula="y", control_group="not_yet_treated", progress_bar=False)
        simple = att.aggregate("simple")
    row = simple.iloc[0]
    values = {k[-1] if isinstance(k, tuple) else k: v for k, v in row.items()}
    att_value, se = float(values["ATT"]), float(values["std_error"])
    cells.to_csv(FIXTURES / "rollout_differences_panel.csv", index=False)
    record = {
        "att": att_value, "se": se,
        "note": ("Callaway-Sant'Anna ATT(g,t) from the differences package 0.3.0, not-yet-treated comparison, "
                 "varying base period, outcome regression without covariates, simple aggregation, analytic "
                 "(influence-function) standard error clustered by team; on rollout_differences_panel.csv "
                 f"(benchmarks/rollout_differences_fixture.py, seed {SEED}, {TEAMS} teams x {WEEKS} weeks, one cell each)."),
        "columns": list(row.index.map(str)),
    }
    (FIXTURES / "rollout_differences.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
