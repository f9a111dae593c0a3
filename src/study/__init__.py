"""study: how customer-service response speed and resolution quality drive satisfaction and repeat purchase.

The public API a notebook calls, in the order of an analysis::

    import study

    data = study.load("tickets.parquet")                  # read, map, validate, derive
    result = study.satisfaction(data, alpha=0.05)         # or repeat_purchase, sla_experiment, overview, ...
    findings = result.findings()                          # its conclusions in words, each naming its estimates
    study.show(findings)                                  # findings, tables, skipped sections
    study.save(result, "results/", findings)              # the results JSON, findings included

Names are loaded when first used, so ``import study`` (and the ``study`` command) stays light.
"""

from importlib import import_module

__version__ = "0.1.0"

# name -> "module" (a module of the API) or "module:attribute"
_API = {
    "load": "study.data.dataset:load_tickets",
    "require": "study.data.readiness:require",
    "simulate": "study.data.simulate:simulate",
    "overview": "study.data.overview:summarize",
    "satisfaction": "study.regression.satisfaction:study",
    "repeat_purchase": "study.regression.repeat:study",
    "sla_experiment": "study.ab.sla:sla_experiment",
    "SLA_COLUMNS": "study.ab.sla:TICKET_COLUMNS",
    "sla_columns": "study.ab.sla:sla_columns",
    "experiment_table": "study.ab.experiment_engine:from_files",
    "truth": "study.report.truth:for_data",
    "true_values": "study.report.truth:expected_values",
    "show": "study.report.display:show",
    "save": "study.core.results:save",
    "Skipped": "study.core.results:Skipped",
    "titles": "study.report.titles",
    "plots": "study.report.plots",
    "tables": "study.data.descriptives",
    "drivers": "study.drivers",
    "driver_analysis": "study.drivers.analysis:from_settings",
    "driver_settings": "study.data.driver_settings:settings",
    "rollout": "study.rollout",
    "rollout_analysis": "study.rollout.analysis:analyse",
    "monitoring": "study.monitoring",
    "monitoring_analysis": "study.monitoring.analysis:analyse",
    "predict": "study.predict",
    "repeat_model": "study.predict.analysis:analyse",
    "feedback": "study.feedback",
    "feedback_analysis": "study.feedback.analysis:analyse",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    try:
        target = _API[name]
    except KeyError:
        raise AttributeError(f"module 'study' has no attribute '{name}'") from None
    module, _, attribute = target.partition(":")
    value = import_module(module)
    return getattr(value, attribute) if attribute else value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
