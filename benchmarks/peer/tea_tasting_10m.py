"""Peer timing: tea-tasting on the Parquet file written by ``benchmarks/ab_10m.py --keep FOLDER``.

Run with a Python that has tea-tasting (not a project dependency):

    python benchmarks/peer/tea_tasting_10m.py FOLDER/experiment.parquet

Same metrics as the study's benchmark (CUPED mean, proportion, ratio, mean, sample ratio), through
ibis on DuckDB; prints wall time and peak memory (getrusage).
"""

from __future__ import annotations

import resource
import sys
import time

import ibis
import tea_tasting as tt


def main(path: str) -> None:
    started = time.perf_counter()
    connection = ibis.duckdb.connect()
    data = connection.read_parquet(path)
    data = data.mutate(bought=data.repeat_purchase.cast("int64"))
    experiment = tt.Experiment(
        next_spend=tt.Mean("next_spend", "pre_spend"),
        repeat_purchase=tt.Proportion("bought", method="norm", equal_var=False, correction=False),
        spend_per_order=tt.RatioOfMeans("next_spend", "orders"),
        pre_spend=tt.Mean("pre_spend"),
        sample_ratio=tt.SampleRatio(),
    )
    result = experiment.analyze(data, control="control")
    whole = time.perf_counter() - started
    started = time.perf_counter()
    by_tier = {tier: experiment.analyze(data.filter(data.tier == tier), control="control")
               for tier in ("bronze", "silver", "gold")}
    segments = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tea-tasting {tt.__version__}: whole experiment {whole:.2f} s, by tier (3 analyses) {segments:.2f} s; "
          f"peak memory {peak_mib:,.0f} MiB")
    spend = result["next_spend"]
    print(f"spend: CUPED effect {spend.effect_size:+.4f} (95% CI {spend.effect_size_ci_lower:+.4f} to "
          f"{spend.effect_size_ci_upper:+.4f}), lift {spend.rel_effect_size:+.3%}; tiers analysed: {len(by_tier)}")


if __name__ == "__main__":
    main(sys.argv[1])
