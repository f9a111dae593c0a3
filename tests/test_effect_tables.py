"""The A/B tables a reader sees: plain method names, shares in %, differences in pp, signs shown."""

import numpy as np
import pandas as pd

from study.ab import abtest, aggregate, effect_tables, robust
from study.ab.sufficient import Metric
from study.report.glossary import METHODS as METHOD_NAMES
from study.report.glossary import method_name


def test_every_method_the_engine_reports_has_a_plain_name():
    rng = np.random.default_rng(1)
    control, treatment = rng.lognormal(3, 1, 200), rng.lognormal(3, 1, 200)
    codes = {e.method_code for e in robust.robust_effects(control, treatment, n_resamples=50)}
    codes |= abtest.REMADE_AT_ANOTHER_LEVEL
    assert codes - set(METHOD_NAMES) == set()
    assert method_name("delta_ratio_welch_t: ratio of sums per arm") == METHOD_NAMES["delta_ratio_welch_t"]
    assert method_name("some_new_code") == "some_new_code"  # shown as itself rather than hidden


def test_a_share_reads_in_percent_and_its_difference_in_points_with_its_sign():
    rng = np.random.default_rng(3)
    units = pd.DataFrame({"customer_id": [str(i) for i in range(2000)], "variant": ["control", "treatment"] * 1000,
                          "spend": rng.lognormal(3, 0.5, 2000), "bought": rng.random(2000) < 0.3})
    metrics = [Metric("spend", "spend"), Metric("bought", "bought", "proportion")]
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregate.aggregate_frame(units, metrics)))
    table = effect_tables.effects_summary(effects, shares={"bought"})
    bought, spend = (next(e for e in effects if e.metric == m) for m in ("bought", "spend"))
    row = table.loc["bought"]
    assert row["control"] == f"{bought.control_value:.1%}" and row["treatment"] == f"{bought.treatment_value:.1%}"
    assert row["difference (95% CI)"] == (f"{100 * bought.estimate:+.1f} pp ({100 * bought.ci_low:+.1f} to "
                                          f"{100 * bought.ci_high:+.1f})")
    assert table.loc["spend", "difference (95% CI)"].startswith(f"{spend.estimate:+.2f} (")
    assert row["method"] == METHOD_NAMES[bought.method_code] and "_" not in "".join(table["method"])
    assert "method" not in effect_tables.effects_summary(effects, shares={"bought"}, methods=False).columns
    one = effect_tables.effects_summary([e for e in effects if e.metric == "spend"], shares={"bought"})
    assert "method" not in one.columns  # one method for every row: the section's text names it
