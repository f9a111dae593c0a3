"""Who is likely to buy again after a service contact, and what faster replies would do to the repeat-purchase rate.

::

    import study.predict

    result = study.predict.analyse(data, alpha=0.05, test_months=2, sla_minutes=60)
    result.findings()          # how well the models rank later months' customers, the scenarios, the assumptions
    result.table()             # both models on the test months: AUC with its interval, Brier score, gains
    result.gains()             # the least likely tenth first, with its share of those who did not buy again
    result.scenario_table()    # the repeat-purchase rate if replies were faster (adjusted causal model)
    result.ledger.table()      # tickets in, set aside by reason, used

Modules: :mod:`~study.predict.features` (what is known at the contact, the leak screen),
:mod:`~study.predict.split` (earlier months train, later months test, no customer on both sides),
:mod:`~study.predict.models` (logistic baseline, gradient-boosted trees), :mod:`~study.predict.metrics`
(AUC with a customer bootstrap, DeLong SE, Brier, calibration, gains), :mod:`~study.predict.scenarios`
(the causal model's scenarios), :mod:`~study.predict.findings`, :mod:`~study.predict.result` and
:mod:`~study.predict.plots`.
"""

from importlib import import_module

from study.predict.analysis import analyse, ceilings
from study.predict.result import ANALYSIS, RepeatModel

__all__ = ["ANALYSIS", "RepeatModel", "analyse", "ceilings", "plots"]


def __getattr__(name: str):
    # The figures load matplotlib: only when a notebook asks for them.
    if name == "plots":
        return import_module("study.predict.plots")
    raise AttributeError(f"module 'study.predict' has no attribute '{name}'")
