"""Peer timing: tea-tasting on the Parquet file of ``benchmarks/ab_10m.py`` (which runs this script).

Run with a Python that has tea-tasting (not a project dependency; ``ab_10m.py`` makes a throwaway
environment for it):

    python benchmarks/peer/tea_tasting_10m.py FOLDER/experiment.parquet

Same work as the study's side (CUPED mean, proportion, ratio, mean, sample ratio; whole experiment
and each tier), through Ibis on DuckDB; imports are outside the timing. Prints one JSON line: wall
time, peak memory (getrusage) and the CUPED effect on spend.
"""

from __future__ import annotations

import json
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
    by_tier = {tier: experiment.analyze(data.filter(data.tier == tier), control="control")
               for tier in ("bronze", "silver", "gold")}
    seconds = time.perf_counter() - started
    spend = result["next_spend"]
    print(json.dumps({
        "seconds": seconds, "whole": whole, "by_tier": seconds - whole, "version": tt.__version__,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "effect": spend.effect_size, "ci": [spend.effect_size_ci_lower, spend.effect_size_ci_upper],
        "segments": len(by_tier),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
