"""The rollout of a service change: did it work once it went live?

::

    import study.rollout

    result = study.rollout.analyse(data, alpha=0.05, pilot_data=pilot)
    result.findings()          # the executive sentence first, then each indicator, checks and assumptions
    result.table()             # naive before/after beside the comparison with teams not yet adopted
    result.event_table("csat") # effects by week since adoption
    result.ledger.table()      # tickets in, set aside by reason, used

Modules: :mod:`~study.rollout.panel` (team x week cells and their rules), :mod:`~study.rollout.did`
(naive, staggered DiD through pyfixest, event study, pre-trend test), :mod:`~study.rollout.its`
(interrupted time series), :mod:`~study.rollout.pilot` (pilot against rollout),
:mod:`~study.rollout.findings`, :mod:`~study.rollout.result` and :mod:`~study.rollout.plots`.
"""

from importlib import import_module

from study.rollout.analysis import analyse
from study.rollout.result import ANALYSIS, RolloutAnalysis

__all__ = ["ANALYSIS", "RolloutAnalysis", "analyse", "plots"]


def __getattr__(name: str):
    # The figure loads matplotlib: only when a notebook asks for it.
    if name == "plots":
        return import_module("study.rollout.plots")
    raise AttributeError(f"module 'study.rollout' has no attribute '{name}'")
