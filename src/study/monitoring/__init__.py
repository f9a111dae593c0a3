"""Monitoring the five key indicators week by week: control charts, out-of-control weeks and trends.

::

    import study.monitoring

    result = study.monitoring.analyse(data, baseline_weeks=8)
    result.statuses()          # one sentence per indicator, for the index page
    result.signals()           # weeks out of control, in words
    result.trends()            # change per week and over the period, with intervals
    result.findings()          # the executive sentence first
    study.monitoring.plots.small_multiples(result)

Modules: :mod:`~study.monitoring.indicators` (the five indicators, weekly values),
:mod:`~study.monitoring.charts` (p, X-bar, Laney and EWMA limits), :mod:`~study.monitoring.trend`,
:mod:`~study.monitoring.weekly_chart` (one indicator's chart), :mod:`~study.monitoring.analysis`,
:mod:`~study.monitoring.result`, :mod:`~study.monitoring.findings` and :mod:`~study.monitoring.plots`.
"""

from importlib import import_module

from study.monitoring.analysis import COLUMNS, analyse
from study.monitoring.indicators import INDICATORS
from study.monitoring.result import ANALYSIS, KpiMonitoring

__all__ = ["ANALYSIS", "COLUMNS", "INDICATORS", "KpiMonitoring", "analyse", "plots"]


def __getattr__(name: str):
    # The figure loads matplotlib: only when a notebook asks for it.
    if name == "plots":
        return import_module("study.monitoring.plots")
    raise AttributeError(f"module 'study.monitoring' has no attribute '{name}'")
