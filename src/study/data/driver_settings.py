"""What a driver analysis studies: from the notebook's parameters, else the column map's ``drivers`` section, else the default.

The default is the study's own question: CSAT on the first response time in hours (``response_hours``,
derived from ``first_response_minutes``),
holding fixed the known confounders the sample has (:data:`study.data.schema.CONFOUNDERS`), with
standard errors clustered by customer where the data has ``customer_id``. :func:`settings` checks
every setting before any data is read, so a run can skip the notebook with the reason (a bad
parameter) or name the columns the data must have (:attr:`DriverSettings.needed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from study.data import column_map, schema
from study.data.schema import DataError

# Hours rather than minutes: a slope per minute is a number too small to read in a table.
DEFAULT = {"outcome": "csat", "driver": "response_hours", "cluster": "customer_id"}
KEYS = ("outcome", "driver", "controls", "cluster")
NO_CLUSTER = ("", False)  # cluster="" (or false in a map): heteroskedasticity-robust SEs, no clustering


@dataclass(frozen=True)
class DriverSettings:
    """The columns a driver analysis studies, and where each setting came from.

    Attributes
    ----------
    outcome, driver : str
    controls : tuple of str or None
        ``None``: the sample's confounders present with two or more values (:meth:`resolve`).
    cluster : str or None
        ``None``: no clustering.
    cluster_default : bool
        Whether ``cluster`` is the default ``customer_id``, used only where the data has it.
    sources : dict
        Setting -> ``"parameter"``, ``"column map"`` or ``"default"``.
    """

    outcome: str
    driver: str
    controls: tuple[str, ...] | None
    cluster: str | None
    cluster_default: bool = False
    sources: dict = field(default_factory=dict)

    @property
    def needed(self) -> list[str]:
        """Columns the data must have: outcome, driver, the controls and cluster that were asked for."""
        asked = [self.outcome, self.driver, *(self.controls or ())]
        if self.cluster and not self.cluster_default:
            asked.append(self.cluster)
        return list(dict.fromkeys(asked))

    def resolve(self, frame: pd.DataFrame) -> tuple[list[str], str | None, list[str]]:
        """The controls and cluster for this data, and notes on the defaults taken.

        Returns
        -------
        controls : list of str
        cluster : str or None
        notes : list of str
        """
        notes = []
        if self.controls is None:
            controls = [c for c in schema.CONFOUNDERS if c in frame.columns and c not in (self.outcome, self.driver)
                        and frame[c].nunique() > 1]
            notes.append("controls by default: the known confounders present in the data "
                         f"({', '.join(controls) if controls else 'none is'})")
        else:
            controls = list(self.controls)
        cluster = self.cluster
        if self.cluster_default and (cluster not in frame.columns or frame[cluster].notna().sum() == 0):
            notes.append(f"no {cluster} column: standard errors are heteroskedasticity-robust (HC1), not clustered")
            cluster = None
        return controls, cluster, notes

    def words(self) -> list[str]:
        """Where each setting came from, one line each."""
        shown = {"outcome": self.outcome, "driver": self.driver,
                 "controls": ", ".join(self.controls) if self.controls is not None else "the confounders present",
                 "cluster": self.cluster or "none (robust SEs)"}
        return [f"{key}: {shown[key]} ({self.sources.get(key, 'default')})" for key in KEYS]

    def parameters(self) -> dict:
        """The settings as a results file records them."""
        return {"outcome": self.outcome, "driver": self.driver,
                "controls": None if self.controls is None else list(self.controls), "cluster": self.cluster}


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a column name, not {value!r}")
    return value


def _names(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list of column names (e.g. ['category']), not {value!r}")
    names = tuple(_name(v, f"each of {what}") for v in value)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} lists {repeated[0]!r} twice")
    return names


def _cluster(value, what: str) -> str | None:
    if value in NO_CLUSTER:
        return None
    return _name(value, what)


def map_section(path: str | Path) -> dict:
    """The ``drivers`` section of a column map (``{}`` without one), its keys checked.

    Raises
    ------
    DataError
        When the map cannot be read, or the section has an unknown key (naming the nearest known one).
    """
    section = column_map.read_yaml_section(path, "drivers") or {}
    column_map.check_keys(section, KEYS, "the drivers section", Path(path).name)
    return section


def settings(columns_path: str | Path | None = None, outcome: str | None = None, driver: str | None = None,
             controls: list[str] | None = None, cluster: str | None = None) -> DriverSettings:
    """The driver analysis's settings: each parameter, else the column map's ``drivers`` section, else the default.

    Parameters
    ----------
    columns_path : str or Path, optional
        Column map whose optional ``drivers`` section names ``outcome``, ``driver``, ``controls``, ``cluster``.
    outcome, driver : str, optional
    controls : list of str, optional
        ``None``: the map's, else the sample's known confounders present.
    cluster : str, optional
        ``None``: the map's, else ``customer_id`` where present; ``""``: no clustering.

    Returns
    -------
    DriverSettings

    Raises
    ------
    ValueError
        A bad parameter (the message names it): not a column name, a list given as text, a column listed
        twice or in two roles. The map's own errors are DataErrors naming the map file.
    """
    given = {"outcome": None if outcome is None else _name(outcome, "parameter outcome"),
             "driver": None if driver is None else _name(driver, "parameter driver"),
             "controls": None if controls is None else _names(controls, "parameter controls"),
             "cluster": None if cluster is None else _cluster(cluster, "parameter cluster")}
    sources = {k: "parameter" for k in KEYS if {"outcome": outcome, "driver": driver, "controls": controls,
                                                 "cluster": cluster}[k] is not None}
    section = map_section(columns_path) if columns_path else {}
    name = Path(columns_path).name if columns_path else ""
    readers = {"outcome": _name, "driver": _name, "controls": _names, "cluster": _cluster}
    for key in KEYS:
        if key in sources or key not in section or section[key] is None:
            continue
        try:
            given[key] = readers[key](section[key], f"drivers.{key}")
        except ValueError as error:
            raise DataError(f"{name}: {error}") from None
        sources[key] = "column map"
    for key in ("outcome", "driver"):
        if given[key] is None:
            given[key] = DEFAULT[key]
            sources[key] = "default"
    cluster_default = "cluster" not in sources
    if cluster_default:
        given["cluster"] = DEFAULT["cluster"]
        sources["cluster"] = "default"
    if "controls" not in sources:
        sources["controls"] = "default"
    if given["driver"] == given["outcome"]:
        raise ValueError(f"driver and outcome are the same column ({given['driver']!r}): "
                         f"driver from the {sources['driver']}, outcome from the {sources['outcome']}")
    for control in given["controls"] or ():
        if control in (given["outcome"], given["driver"]):
            role = "outcome" if control == given["outcome"] else "driver"
            raise ValueError(f"controls: {control!r} is also the {role}; a column cannot be held fixed and studied at once")
    return DriverSettings(given["outcome"], given["driver"], given["controls"], given["cluster"], cluster_default, sources)
