"""The registry of the study's analyses: each one's notebook, title, needed columns and start order.

Everything that lists analyses (the runner, ``--only``, the executive summary, the tests) reads
this one tuple, so a new analysis is registered here once, beside its notebook ``notebooks/NAME.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from study import config


@dataclass(frozen=True)
class Analysis:
    """An analysis of the study and the columns it cannot do without.

    Attributes
    ----------
    name : str
        Its notebook's name, ``NN_words``; ``NN`` alone selects it in ``--only``.
    title : str
        How the index names it.
    needs : tuple of str
        Contract columns without which it is skipped (with that reason).
    kind : {"tickets", "experiment", "drivers"}
        ``tickets`` reads the data contract; ``experiment`` reads any experiment table through the
        ``experiment`` section of a column map; ``drivers`` reads a ticket table, and what it needs
        depends on its settings (:func:`needs_of`).
    start, start_few : int
        Start order in a run on many tickets, and on few (at most :data:`FEW_TICKETS`): the slowest notebooks
        start first, so the quick ones fill in beside them (:func:`start_order`). On many tickets the scans
        decide: 04's customer aggregation starts third, after the two longest fits, then 09's; on few, every
        notebook's time is its fits and figures, and 04 and 06 come last.
    reads_map : bool
        Whether a run hands it the column map (``columns_path``) for a section of its own (``experiment``,
        ``drivers``, ``feedback``); the others read the validated copy, to which the map was already applied.
    evidence : str
        What kind of evidence its estimates are, unless an estimate says otherwise
        (:func:`study.report.key_results.evidence_of`): ``randomized``, ``before/after``, ``observational``,
        ``predictive`` or ``descriptive``.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    kind: str = "tickets"
    start: int = 9
    start_few: int = 9
    reads_map: bool = False
    evidence: str = "observational"

    @property
    def notebook(self) -> Path:
        """The notebook that runs it."""
        return config.NOTEBOOKS / f"{self.name}.ipynb"


ANALYSES: tuple[Analysis, ...] = (
    Analysis("01_data_overview", "Data overview", ("ticket_id",), start_few=3, evidence="descriptive"),
    Analysis("02_satisfaction_drivers", "Speed, resolution and satisfaction",
             ("csat", "first_response_minutes", "resolved", "customer_id"), start=0, start_few=0),
    Analysis("03_repeat_purchase", "Repeat purchase",
             ("repeat_purchase", "first_response_minutes", "resolved", "csat", "customer_id"), start=1, start_few=1),
    Analysis("04_ab_test", "The faster-response SLA experiment", ("variant", "customer_id", "csat", "repeat_purchase"),
             start=2, start_few=7, evidence="randomized"),
    Analysis("05_experiment_table", "An experiment table", (), kind="experiment", reads_map=True,
             evidence="randomized"),
    Analysis("06_driver_analysis", "Driver analysis", (), kind="drivers", start=4, start_few=8, reads_map=True),
    Analysis("07_rollout", "Before and after the rollout", ("created_at", "adopted_at"), start=5, start_few=4,
             evidence="before/after"),
    Analysis("08_monitoring", "Key indicators week by week", ("created_at",), start=6, start_few=5,
             evidence="descriptive"),
    Analysis("09_repeat_model", "Who comes back: a predictive model of repeat purchase",
             ("repeat_purchase", "created_at", "customer_id", "first_response_minutes"), start=3, start_few=2,
             evidence="predictive"),
    Analysis("10_feedback", "What customers write", ("comment",), start=7, start_few=6, reads_map=True,
             evidence="descriptive"),
)
(OVERVIEW, DRIVERS, REPEAT, AB_TEST, EXPERIMENT, DRIVER_ANALYSIS, ROLLOUT, MONITORING, REPEAT_MODEL,
 FEEDBACK) = (a.name for a in ANALYSES)
# At most this many tickets, every notebook reads them all and its fits and figures take its time: the model
# notebooks' default sample (model_tickets) is this size.
FEW_TICKETS = 200_000
# The notebook parameters that say what a driver analysis studies (None: the column map's, else the default).
DRIVER_SETTINGS = ("outcome", "driver", "controls", "cluster")


def missing_for(analysis: Analysis, columns) -> list[str]:
    """Columns an analysis needs that are absent from ``columns``."""
    present = set(columns)
    return [c for c in analysis.needs if c not in present]


def needed_by(column: str) -> list[str]:
    """Names of the analyses that cannot run without ``column``."""
    return [a.name for a in ANALYSES if column in a.needs]


def start_order(analyses: list[Analysis], tickets: int) -> list[Analysis]:
    """The order in which a run on ``tickets`` tickets starts ``analyses``: by :attr:`Analysis.start_few` on at
    most :data:`FEW_TICKETS` tickets, by :attr:`Analysis.start` on more.

    The notebooks run a few at a time, each taking the next in this order when one ends; the slowest first,
    so that the quick ones fill in at the end. On the 40,000-ticket sample the order by ``start`` left one
    notebook running alone for its last 1.7 s; by ``start_few`` the run took 0.55 s less.
    """
    few = tickets <= FEW_TICKETS
    return sorted(analyses, key=lambda a: (a.start_few if few else a.start, a.name))


def select(only: list[str] | None = None) -> list[Analysis]:
    """The analyses named in ``only`` (by name or number prefix: ``02`` or ``02_satisfaction_drivers``), or all.

    Raises
    ------
    ValueError
        For a name that is not registered, listing those that are.
    """
    if not only:
        return list(ANALYSES)
    chosen = []
    for wanted in only:
        matches = [a for a in ANALYSES if a.name == wanted or a.name.split("_", 1)[0] == wanted]
        if not matches:
            raise ValueError(f"unknown analysis '{wanted}' (analyses: {', '.join(a.name for a in ANALYSES)})")
        chosen += [m for m in matches if m not in chosen]
    return chosen
