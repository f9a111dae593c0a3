"""What the monitoring analysis returns: one object the notebook shows, the results file saves and the index reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from study.core.accounting import RowLedger
from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source
from study.monitoring import findings as words
from study.monitoring.indicators import INDICATORS, Indicator
from study.monitoring.weekly_chart import IndicatorChart, Settings, build

ANALYSIS = "08_monitoring"
ALL = "all tickets"


@dataclass
class KpiMonitoring:
    """The five key indicators week by week: charts, out-of-control weeks, trends; overall and per team.

    Attributes
    ----------
    source : Source
    parameters : dict
    settings : study.monitoring.weekly_chart.Settings
    calendar : pandas.DataFrame
        Every week of the data: tickets, days inside the data, partial, volume flag, known event.
    charts : dict
        Indicator name -> :class:`IndicatorChart`, or :class:`Skipped` with the reason (an absent column,
        too few weeks, no variation).
    ledger : RowLedger
        Tickets in and those without a date.
    ledgers : dict
        Indicator name -> its ledger: rows without a value, in partial or small weeks, used.
    team : str or None
        The team column, when per-team charts were made.
    team_charts : dict
        Team -> {indicator name -> IndicatorChart or Skipped}.
    team_skipped : str
        Why there are no per-team charts ("" when there are).
    skipped : str
        Why nothing could be charted ("" when something was).
    """

    name: ClassVar[str] = ANALYSIS

    source: Source
    parameters: dict
    settings: Settings
    calendar: pd.DataFrame = field(default_factory=pd.DataFrame)
    charts: dict = field(default_factory=dict)
    ledger: RowLedger | None = None
    ledgers: dict = field(default_factory=dict)
    team: str | None = None
    team_charts: dict = field(default_factory=dict)
    team_skipped: str = ""
    team_notes: list = field(default_factory=list)
    skipped: str = ""

    # -- building -----------------------------------------------------------------------------------------
    def run(self, indicator: Indicator, dated: pd.DataFrame, weeks: pd.Series) -> None:
        """Chart ``indicator`` on all dated tickets, counting every ticket that does not enter it."""
        if indicator.column not in dated.columns or dated[indicator.column].isna().all():
            self.charts[indicator.name] = Skipped(
                indicator.label, f"the data has no {indicator.column}" if indicator.column not in dated.columns
                else f"{indicator.column} is empty in every ticket")
            return
        # The ledger only counts: it holds the tickets' index, not their columns, so that each step does not copy
        # every column of every ticket (at 10M tickets, a third of the analysis).
        ledger = RowLedger(dated[[]], {k: v for k, v in self.ledger.dropped.items() if v})
        values = indicator.values(dated)
        ledger.keep(values.notna(), indicator.missing)
        chart = build(indicator, weeks, values, self.calendar, self.settings)
        if isinstance(chart, str):
            self.charts[indicator.name] = Skipped(indicator.label, chart)
        else:
            for reason, group in chart.set_aside.groupby("ledger", sort=False):
                ledger.keep(~weeks.reindex(ledger.frame.index).isin(group.index), reason)
            self.charts[indicator.name] = chart
        self.ledgers[indicator.name] = ledger

    def run_teams(self, team: str, dated: pd.DataFrame, weeks: pd.Series) -> None:
        """Each team's charts, for the indicators charted overall; teams without enough weeks left out with the reason."""
        teams = dated[team].dropna()
        if teams.nunique() < 2:
            self.team_skipped = f"one {team} ({teams.iloc[0]}): its charts are the charts of all tickets"
            return
        self.team = team
        unknown = int(dated[team].isna().sum())
        if unknown:
            self.team_notes.append(f"{unknown:,} dated tickets have no {team}: they enter the charts of all tickets only")
        charted = [i for i in INDICATORS if isinstance(self.charts.get(i.name), IndicatorChart)]
        for value in sorted(teams.unique(), key=str):
            rows = dated.index[dated[team] == value]
            self.team_charts[value] = {}
            for indicator in charted:
                chart = build(indicator, weeks[rows], indicator.values(dated.loc[rows]), self.calendar, self.settings,
                              unit=str(value))
                self.team_charts[value][indicator.name] = Skipped(f"{indicator.label}, {team} {value}", chart) \
                    if isinstance(chart, str) else chart

    # -- reading ------------------------------------------------------------------------------------------
    def chart(self, name: str) -> IndicatorChart | Skipped | None:
        """An indicator's chart of all tickets (or why it was skipped)."""
        return self.charts.get(name)

    @property
    def charted(self) -> list[IndicatorChart]:
        return [c for c in self.charts.values() if isinstance(c, IndicatorChart)]

    def team_charted(self) -> list[IndicatorChart]:
        return [c for charts in self.team_charts.values() for c in charts.values() if isinstance(c, IndicatorChart)]

    def statuses(self) -> list[str]:
        """One sentence per indicator, for the index page (an indicator not charted says why)."""
        if self.skipped:
            return [f"Key indicators: not charted, {self.skipped}."]
        return [words.status(self.charts[i.name]) if isinstance(self.charts[i.name], IndicatorChart)
                else words.not_charted(i, self.charts[i.name].reason) for i in INDICATORS if i.name in self.charts]

    def signals(self, teams: bool = False) -> pd.DataFrame | str | None:
        """Weeks out of control, one row per chart and week: week, indicator, unit, chart, value, limit, direction, words.

        A sentence when no week of any chart was out of control; ``None`` for ``teams`` without per-team charts.
        """
        if teams and self.team is None:
            return None
        charts = self.team_charted() if teams else self.charted
        rows = [row for c in charts for row in words.signal_rows(c)]
        if not rows:
            return f"No week of any {'team ' if teams else ''}chart was out of control." if charts else None
        columns = ["week", "indicator", "unit", "chart", "value", "limit", "direction", "in words"]
        return pd.DataFrame(rows, columns=columns)

    def trends(self) -> pd.DataFrame:
        """Each indicator's trend per week and over the period, with its interval."""
        return pd.DataFrame([words.trend_row(c) for c in self.charted]).set_index("indicator") if self.charted \
            else pd.DataFrame()

    def chart_choices(self) -> pd.DataFrame:
        """Which chart each indicator uses and why: the dispersion test on the baseline weeks and Laney's factor."""
        return pd.DataFrame([words.choice_row(c) for c in self.charted]).set_index("indicator") if self.charted \
            else pd.DataFrame()

    def weekly(self, name: str) -> pd.DataFrame | Skipped:
        """An indicator's weekly table: count, value, within-week SE, limits, EWMA and signals."""
        chart = self.charts.get(name)
        return chart.table if isinstance(chart, IndicatorChart) else chart

    def weekly_values(self) -> pd.DataFrame:
        """Every charted indicator's weekly value, count and within-week standard error side by side (rates in %)."""
        columns = {}
        for chart in self.charted:
            scale, name = (100.0, f"{words.label(chart.indicator)} (%)") if chart.indicator.rate else \
                (1.0, f"{words.label(chart.indicator)}" + (f" ({chart.indicator.unit})" if chart.indicator.unit == "hours" else ""))
            columns[name] = chart.table["value"] * scale
            columns[f"{words.label(chart.indicator)}: n"] = chart.table["n"]
            columns[f"{words.label(chart.indicator)}: SE"] = chart.table["se"] * scale
        return pd.DataFrame(columns).rename_axis("week") if columns else pd.DataFrame()

    def weeks(self) -> pd.DataFrame:
        """The calendar: tickets, days inside the data, partial weeks, volume flags and known events."""
        return self.calendar

    def team_status(self) -> pd.DataFrame | Skipped:
        """Team x indicator: weeks in control of weeks charted, or why the team's chart was left out."""
        if self.team is None:
            return Skipped("per-team charts", self.team_skipped)
        table = {team: {words.LABELS[name]: words.team_cell(c) for name, c in charts.items()}
                 for team, charts in self.team_charts.items()}
        return pd.DataFrame(table).T.rename_axis(self.team)

    def teams_left_out(self) -> pd.DataFrame | None:
        """Team charts not drawn, with the reason (``None`` without per-team charts)."""
        if self.team is None:
            return None
        rows = [{"team": team, "indicator": name, "reason": c.reason}
                for team, charts in self.team_charts.items() for name, c in charts.items() if isinstance(c, Skipped)]
        return pd.DataFrame(rows, columns=["team", "indicator", "reason"])

    def rows_table(self) -> pd.DataFrame:
        """Rows in, dropped by reason and used, one column per indicator."""
        columns = {words.LABELS[name]: ledger.table()["rows"] for name, ledger in self.ledgers.items()}
        steps = list(dict.fromkeys(step for table in columns.values() for step in table.index if step != "rows used"))
        return pd.DataFrame(columns).reindex([*steps, "rows used"]).fillna(0).astype(int)

    @property
    def rows(self) -> dict:
        """Per indicator: rows in, dropped by reason, used (a skipped chart uses none)."""
        if not self.ledgers:
            return self.ledger.as_dict() if self.ledger is not None else {}
        out = {}
        for name, ledger in self.ledgers.items():
            counts = ledger.as_dict()
            chart = self.charts[name]
            if isinstance(chart, Skipped) and counts["used"]:
                counts["dropped"][f"the chart was skipped: {chart.reason}"] = counts["used"]
                counts["used"] = 0
            out[words.LABELS[name]] = counts
        return out

    @property
    def estimates(self) -> list[Estimate]:
        out = []
        for chart in self.charted:
            out += words.estimates(chart)
        if self.team is not None:
            out += words.team_estimates(self)
        return out

    @property
    def notes(self) -> list[str]:
        if self.skipped:
            return [f"monitoring: skipped, {self.skipped}"]
        out = [f"{c.section}: skipped, {c.reason}" for c in self.charts.values() if isinstance(c, Skipped)]
        out += words.method_notes(self)
        if self.team is None and self.team_skipped:
            out.append(f"per-team charts: skipped, {self.team_skipped}")
        return out + list(self.team_notes)

    def findings(self, truth: dict | None = None) -> Findings:
        """The executive sentence, each indicator's status, the chart choices, per-team signals and caveats."""
        return words.findings(self)
