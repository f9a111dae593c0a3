"""Peer numbers for group-sequential boundaries: spotify-confidence, written as a test fixture.

Run with a Python that has spotify-confidence (kept out of the project's dependencies), e.g. a
throwaway virtual environment with ``pip install spotify-confidence==4.1.0``:

    python benchmarks/peer/spotify_confidence_cases.py tests/fixtures/peer_spotify_confidence.json

spotify-confidence spends ``alpha * t**2`` (the power family, rho = 2) and treats a two-sided plan
as a one-sided upper boundary at ``alpha / 2`` (its integration runs from z = -8 to the boundary,
so a path that crosses the lower boundary and comes back is not stopped). The fixture records its
boundaries for several plans, and its sequentially adjusted intervals on seeded data, where the
boundary is ``(adjusted upper - difference) / standard error``. ``tests/test_peer_spotify_confidence.py``
recomputes them with ``study.ab.sequential``.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import numpy as np
import pandas as pd
from spotify_confidence import ZTest
from spotify_confidence.analysis.frequentist.confidence_computers.z_test_computer import (
    sequential_bounds,
)
from spotify_confidence.analysis.frequentist.sequential_bound_solver import bounds

PLANS = [
    {"case": "k5_equal_alpha05_two_sided", "information": [0.2, 0.4, 0.6, 0.8, 1.0], "alpha": 0.05, "sides": 2},
    {"case": "k4_unequal_alpha05_two_sided", "information": [0.1, 0.35, 0.6, 1.0], "alpha": 0.05, "sides": 2},
    {"case": "k3_alpha10_two_sided", "information": [0.3, 0.7, 1.0], "alpha": 0.10, "sides": 2},
    {"case": "k10_equal_alpha05_one_sided", "information": [k / 10 for k in range(1, 11)], "alpha": 0.05, "sides": 1},
    {"case": "k20_equal_alpha05_two_sided", "information": [k / 20 for k in range(1, 21)], "alpha": 0.05, "sides": 2},
]


def seeded_looks(seed: int, looks: int, per_arm_per_look: int, final_total: int) -> pd.DataFrame:
    """Cumulative sums per arm at each look of a normal-outcome experiment with a small true lift."""
    rng = np.random.default_rng(seed)
    rows, totals = [], {"control": [0, 0.0, 0.0], "treatment": [0, 0.0, 0.0]}
    for look in range(1, looks + 1):
        for arm, mean in (("control", 10.0), ("treatment", 10.3)):
            y = np.round(rng.normal(mean, 4.0, per_arm_per_look), 3)
            total = totals[arm]
            total[0] += len(y)
            total[1] += float(y.sum())
            total[2] += float((y**2).sum())
            rows.append({"group": arm, "look": look, "n": total[0], "sum": round(total[1], 6),
                         "sum_sq": round(total[2], 6), "final_n": final_total})
    return pd.DataFrame(rows)


def main(out: str) -> None:
    plans = []
    for plan in PLANS:
        t = np.array(plan["information"])
        zb = sequential_bounds(t, alpha=plan["alpha"], sides=plan["sides"]).bounds
        plans.append({**plan, "spending": "power, rho = 2", "boundaries": [float(z) for z in zb]})
    for rho in (1.0, 3.0):
        t = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
        zb = bounds(t, 0.05, rho=rho, ztrun=8, sides=2, max_nints=1000).bounds
        plans.append({"case": f"k5_equal_alpha05_two_sided_rho{rho:g}", "information": list(t), "alpha": 0.05, "sides": 2,
                      "spending": f"power, rho = {rho:g}", "boundaries": [float(z) for z in zb]})

    data = seeded_looks(2024, 5, 400, 4000)
    test = ZTest(data, numerator_column="sum", numerator_sum_squares_column="sum_sq", denominator_column="n",
                 categorical_group_columns="group", ordinal_group_column="look")
    table = test.difference(level_1="control", level_2="treatment", groupby="look",
                            final_expected_sample_size_column="final_n", verbose=True)
    looks = [{"look": int(r["look"]), "information": float(r["current_total_n"] / r["final_n"]),
              "difference": float(r["difference"]), "std_err": float(r["std_err"]),
              "adjusted_alpha": float(r["adjusted_alpha"]), "adjusted_ci_lower": float(r["adjusted ci_lower"]),
              "adjusted_ci_upper": float(r["adjusted ci_upper"]), "is_significant": bool(r["is_significant"])}
             for _, r in table.sort_values("look").iterrows()]

    payload = {
        "peer": "spotify-confidence", "peer_version": version("spotify-confidence"),
        "made_by": "benchmarks/peer/spotify_confidence_cases.py",
        "convention": "spending alpha * t**rho (rho = 2 in its experiments); two-sided alpha handled as a one-sided "
                      "upper boundary at alpha / 2 integrated from z = -8; trapezoid grid of step 0.05 sd, "
                      "boundary search to 1e-7 in probability",
        "plans": plans,
        "experiment": {"data": data.to_dict(orient="list"), "alpha": 0.05, "sides": 2, "looks": looks},
    }
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    print(f"{len(plans)} plans and {len(looks)} looks written to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/peer_spotify_confidence.json")
