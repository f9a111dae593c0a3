"""A rollout table beside the tickets: which team adopted a change, and when.

A team's go-live date rarely sits on every ticket of an export. It sits in a small table (a CSV a
project manager keeps), which the column map's ``tickets`` section names::

    tickets:
      columns: {team: region}
      rollout:
        file: go_live.csv          # CSV or Parquet, relative to the column map's folder
        team: region_code          # its column naming the team (default: team)
        adopted_at: went_live_on   # its column with the go-live time (default: adopted_at)

The table is only read. Each ticket gets its team's go-live time as ``adopted_at``; a team the
table does not list has not adopted (said in a note), and a team listed twice with two different
times is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from study.data import io
from study.data.convert import nearest, short, to_time
from study.data.schema import DataError

KEYS = ("file", "team", "adopted_at")


@dataclass(frozen=True)
class RolloutTable:
    """Where the rollout table is and which of its columns say what.

    Attributes
    ----------
    path : Path
        The table's file (resolved against the column map's folder).
    team, adopted_at : str
        Its columns naming the team and the go-live time.
    """

    path: Path
    team: str = "team"
    adopted_at: str = "adopted_at"


def read_spec(value, map_path: Path) -> RolloutTable | None:
    """The ``rollout`` key of a column map's tickets section, checked before any data is read.

    Raises
    ------
    DataError
        For a key other than ``file``, ``team`` and ``adopted_at``, or a missing ``file``.
    """
    if value is None:
        return None
    name = map_path.name
    if not isinstance(value, dict):
        raise DataError(f"{name}: rollout must be a mapping with file, team and adopted_at (got {short(str(value))})")
    unknown = [str(k) for k in value if k not in KEYS]
    if unknown:
        close = nearest(unknown[0], list(KEYS))
        raise DataError(f"{name}: rollout: unknown key {short(unknown[0])}" + (f" (did you mean {close!r}?)" if close else f" (keys: {', '.join(KEYS)})"))
    if not isinstance(value.get("file"), str) or not value["file"].strip():
        raise DataError(f"{name}: rollout needs file: the table of teams and their go-live times (CSV or Parquet)")
    names = {k: value.get(k, k) for k in ("team", "adopted_at")}
    for key, column in names.items():
        if not isinstance(column, str) or not column.strip():
            raise DataError(f"{name}: rollout: {key} must name a column of the rollout table (got {short(str(column))})")
    # The table sits beside the map (or below it): a map passed around must not open files elsewhere.
    folder = map_path.parent.resolve()
    path = (folder / value["file"].strip()).resolve()
    if Path(value["file"].strip()).is_absolute() or folder not in path.parents:
        raise DataError(f"{name}: rollout: file must be a table in the column map's folder or below it, "
                        f"named relative to it (got {short(value['file'])})")
    return RolloutTable(path, names["team"].strip(), names["adopted_at"].strip())


def go_live_times(spec: RolloutTable) -> pd.Series:
    """The table's go-live time per team (index: team as text).

    Raises
    ------
    DataError
        When the file cannot be read, lacks a named column, has a go-live that is not a time, an
        empty team, or a team listed with two different times.
    """
    if not spec.path.is_file():
        raise DataError(f"{spec.path.name} (the rollout table): no such file beside the column map")
    try:
        frame, source = io.load(spec.path)
    except DataError as error:
        raise DataError(f"{error} (the rollout table)") from None
    where = f"{source.name} (the rollout table)"
    if frame.empty:
        raise DataError(f"{where}: no rows; it needs one row per team with its go-live time")
    missing = [c for c in (spec.team, spec.adopted_at) if c not in frame.columns]
    if missing:
        close = nearest(missing[0], list(frame.columns))
        raise DataError(f"{where}: no column {missing[0]!r}" + (f" (did you mean {close!r}?)" if close else f" (columns: {', '.join(map(str, frame.columns[:12]))})"))
    team = frame[spec.team].astype("string").str.strip()
    if team.isna().any():
        raise DataError(f"{where}: column {spec.team!r} is empty in {int(team.isna().sum())} rows")
    times, problem, _ = to_time(frame[spec.adopted_at], spec.adopted_at)
    if problem:
        raise DataError(f"{where}: {problem}")
    table = pd.DataFrame({"team": team.to_numpy(), "adopted_at": times.to_numpy()}).drop_duplicates()
    repeated = table["team"].duplicated(keep=False)
    if repeated.any():
        first = table.loc[repeated, "team"].iloc[0]
        shown = ", ".join(str(t) for t in table.loc[table["team"] == first, "adopted_at"])
        raise DataError(f"{where}: team {first!r} has {int((table['team'] == first).sum())} different go-live times ({shown});"
                        f" {int(table.loc[repeated, 'team'].nunique())} teams are listed more than once; keep one time per team")
    return table.set_index("team")["adopted_at"]


def attach(frame: pd.DataFrame, spec: RolloutTable, source: str, notes: dict[str, str]) -> pd.DataFrame:
    """The tickets with ``adopted_at`` from the rollout table, matched on ``team``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tickets with contract names (after the map's ``columns``).
    spec : RolloutTable
    source : str
        The tickets' name, for messages.
    notes : dict
        Gains a note on ``adopted_at``: where it came from and the teams without a go-live time.

    Raises
    ------
    DataError
        When the tickets have no ``team`` or already have an ``adopted_at``, or as :func:`go_live_times`.
    """
    if "team" not in frame.columns:
        raise DataError(f"{source}: the column map's rollout table is matched on team, which the data lacks (map it under columns)")
    if "adopted_at" in frame.columns:
        raise DataError(f"{source}: adopted_at comes both from the data and from the rollout table; keep one")
    go_live = go_live_times(spec)
    team = frame["team"].astype("string").str.strip()
    out = frame.copy(deep=False)
    out["adopted_at"] = team.map(go_live).astype("datetime64[ns]").to_numpy()
    unlisted = sorted(set(team.dropna()) - set(go_live.index))
    if unlisted and len(unlisted) == team.dropna().nunique():
        raise DataError(f"{source}: none of the {len(unlisted)} teams of the tickets is in {spec.path.name} (tickets: "
                        f"{', '.join(unlisted[:3])}; table: {', '.join(map(str, go_live.index[:3]))}); names are compared "
                        "exactly, case included")
    note = f"from {spec.path.name}, by team"
    if unlisted:
        note += (f"; {len(unlisted)} team{'s' if len(unlisted) > 1 else ''} not in it ({', '.join(unlisted[:5])}"
                 f"{', ...' if len(unlisted) > 5 else ''}) taken as not adopted")
    notes["adopted_at"] = note
    return out
