"""Coverage of the AUC's customer-bootstrap interval, and the boosted model against the attainable AUC ceiling.

Part 1, coverage: tickets clustered in customers (1 + Poisson(0.6) tickets each, as in the simulator), a
customer effect shared by the outcome and the score, so a customer's tickets are not independent. The
population AUC of the score is computed once on 400,000 customers; then ``runs`` samples of 2,500
customers each get the analysis's percentile bootstrap over customers (``replicates`` draws), and the
share of intervals covering the population AUC is printed with its Monte-Carlo SE and asserted within
3 MC SE of 95%. The DeLong interval, which takes tickets as independent, is printed beside it (not
asserted): with customers of 1.6 tickets on average it is close; it would be too narrow were customers
to bring many tickets each.

Part 2, ceiling (once the simulator gives ``per_ticket``): on the 40,000-ticket simulation of each seed,
the boosted model's test-months AUC beside the AUC of the true probability given what is known at the
contact (the attainable ceiling) and of the true probability given everything (the oracle), on the
same test tickets; asserts the boosted model within 0.02 of the attainable ceiling.
Run from the repository root (about a minute)::

    python benchmarks/predict_auc.py [runs] [replicates]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys
import time

import numpy as np
from scipy import stats

from study.data.dataset import from_frame
from study.data.simulate import simulate
from study.predict import analyse, ceilings, metrics

LEVEL = 0.95


def clustered(rng: np.random.Generator, customers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, score and customer of each ticket; a customer effect enters both outcome and score."""
    per = 1 + rng.poisson(0.6, customers)
    owner = np.repeat(np.arange(customers), per)
    u = rng.normal(size=customers)[owner]
    x = rng.normal(size=owner.size)
    y = (rng.random(owner.size) < 1 / (1 + np.exp(-(-0.3 + 0.8 * u + 0.4 * x)))).astype(float)
    score = 0.4 * x + 0.8 * u + rng.normal(0, 1.0, owner.size)
    return y, score, owner


def coverage(runs: int, replicates: int) -> None:
    rng = np.random.default_rng(2026)
    y, score, _ = clustered(rng, 400_000)
    truth = metrics.weighted_auc(y, score)
    boot, delong = [], []
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    for _ in range(runs):
        y, score, owner = clustered(rng, 2_500)
        found = metrics.discrimination(y, score, metrics.customer_weights(owner, replicates, rng), 1 - LEVEL)
        boot.append(found.low <= truth <= found.high)
        se = metrics.delong_se(y, score)
        delong.append(abs(found.auc - truth) <= z * se)
    mc_se = np.sqrt(LEVEL * (1 - LEVEL) / runs)
    covered = float(np.mean(boot))
    print(f"population AUC {truth:.4f}; {runs} samples of 2,500 customers, {replicates} bootstrap replicates each")
    print(f"  customer bootstrap: coverage {covered:.3f} (MC SE {mc_se:.3f}; 3 MC SE = {3 * mc_se:.3f})")
    print(f"  DeLong, tickets as independent (not asserted): coverage {np.mean(delong):.3f}")
    assert abs(covered - LEVEL) <= 3 * mc_se, f"bootstrap coverage {covered:.3f} is not within 3 MC SE of {LEVEL}"


def ceiling(seeds=(2026, 2027, 2028)) -> None:
    for seed in seeds:
        sim = simulate(rows=40_000, seed=seed)
        if not hasattr(sim, "per_ticket"):
            print("ceiling: skipped, the simulator does not give per-ticket true probabilities yet")
            return
        data = from_frame(sim.tickets)
        result = analyse(data, bootstrap=200, seed=seed)
        table = ceilings(result, sim.per_ticket, data.tickets)
        print(f"seed {seed}:")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        gap = table.iloc[0, 0] - result.models["boosted"].discrimination.auc
        assert abs(gap) <= 0.02, f"seed {seed}: boosted AUC {gap:.3f} from the attainable ceiling"


if __name__ == "__main__":
    start = time.time()
    arguments = [int(a) for a in sys.argv[1:3]]
    coverage(*(arguments + [400, 500][len(arguments):]))
    ceiling()
    print(f"ok ({time.time() - start:.0f} s)")
