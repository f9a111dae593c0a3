"""Benchmark: fitting time of each model of the study on simulated tickets (default 1,000,000).

    .venv/bin/python benchmarks/fit_models.py [--rows N]

Prints one line per model: wall seconds and CPU seconds (user + system, all threads; on a shared
machine the CPU figure is the steadier one). Peak RSS of the whole script is printed last.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import time

from study.data import simulate
from study.data.dataset import from_frame

# (module, function, keyword arguments): every model the notebooks fit.
MODELS = [
    ("study.regression.models", "satisfaction_drivers", {}),
    ("study.regression.causal", "randomized_speed_effect", {}),
    ("study.regression.agents", "without_agents", {}),
    ("study.regression.csat", "ordered_logit", {}),
    ("study.regression.csat", "variance_inflation", {}),
    ("study.regression.csat", "dose_response", {}),
    ("study.regression.csat", "speed_by_resolution", {}),
    ("study.regression.csat", "standard_error_sensitivity", {}),
    ("study.regression.key_drivers", "key_drivers", {"n_boot": 500}),
    ("study.regression.models", "repeat_purchase", {}),
    ("study.regression.mediation", "speed_through_satisfaction", {}),
    ("study.regression.nonresponse", "survey_nonresponse", {}),
    ("study.regression.survival", "time_to_next_purchase", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    tickets = simulate.simulate(rows=args.rows, seed=1).tickets
    print(f"simulate {args.rows:,} tickets: {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    data = from_frame(tickets, "benchmark")
    print(f"validate and derive: {time.perf_counter() - started:.1f} s")
    for module, name, kwargs in MODELS:
        try:
            function = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            print(f"{module}.{name}: not available")
            continue
        started, cpu = time.perf_counter(), time.process_time()
        function(data, **kwargs)
        print(f"{module}.{name}: {time.perf_counter() - started:.1f} s (CPU {time.process_time() - cpu:.1f} s)", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
