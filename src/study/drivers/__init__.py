"""The general driver analysis: how any outcome goes with any declared driver, on any table.

::

    import study.drivers

    result = study.drivers.analyse(frame, "review_score", "delivery_delay_days",
                                   controls=["category", "state"], cluster="customer_id")
    result.findings()          # associations in words, with the observational caveats
    result.table()             # naive, adjusted and the check side by side
    result.curve()             # the shape of a numeric driver's association
    result.ledger.table()      # rows in, dropped by reason, used

Modules: :mod:`~study.data.driver_columns` (reading a column as model numbers, and its kind),
:mod:`~study.drivers.rows` (rows and ledger), :mod:`~study.drivers.models` (naive, adjusted, checks),
:mod:`~study.drivers.shape` (the curve), :mod:`~study.drivers.sensitivity`,
:mod:`~study.drivers.findings`, :mod:`~study.drivers.result` and :mod:`~study.drivers.plots`; what to study,
from parameters or a column map, is read by :mod:`study.data.driver_settings`.
"""

from importlib import import_module

from study.data.driver_settings import DriverSettings, settings
from study.drivers.analysis import analyse, from_settings
from study.drivers.result import ANALYSIS, DriverAnalysis

__all__ = ["ANALYSIS", "DriverAnalysis", "DriverSettings", "analyse", "from_settings", "plots", "settings"]


def __getattr__(name: str):
    # The figures load matplotlib: only when a notebook asks for them (study.drivers.plots).
    if name == "plots":
        return import_module("study.drivers.plots")
    raise AttributeError(f"module 'study.drivers' has no attribute '{name}'")
