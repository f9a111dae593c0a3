"""Writing a simulation: the tickets and the ``truth.json`` that belongs to them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from study.data.io import fingerprint


@dataclass(frozen=True)
class SimulatedStudy:
    """Simulated tickets with the truth they were drawn from.

    Attributes
    ----------
    tickets : pandas.DataFrame
        One row per ticket, columns as in the data contract (``data/README.md``).
    truth : dict
        True effects; see :func:`study.data.simulated_truth.true_effects`.
    per_ticket : pandas.DataFrame, optional
        Truths of each ticket that no file holds, row for row with ``tickets``: its true repeat-purchase
        probability (``repeat_probability``), the best one knowable at contact
        (``repeat_probability_at_contact``) and its comment's true themes (``theme_<name>``).
    """

    tickets: pd.DataFrame
    truth: dict
    per_ticket: pd.DataFrame | None = None


def _refuse_to_overwrite(out: Path) -> None:
    """Refuse to replace a file that is not an earlier simulation of ours, or another simulation's truth.

    An earlier simulation is proven by the ``truth.json`` beside it, which records its name and
    fingerprint; anything else at either path belongs to the user.

    Raises
    ------
    ValueError
        Saying which file would be overwritten.
    """
    truth_path = out.parent / "truth.json"
    recorded = {}
    if truth_path.exists():
        try:
            recorded = json.loads(truth_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        if not isinstance(recorded, dict) or "dgp_version" not in recorded:
            raise ValueError(f"{truth_path}: exists and is not a simulation's truth; write the simulation to another folder")
        if recorded.get("data_file") != out.name and (out.parent / str(recorded.get("data_file", ""))).exists():
            raise ValueError(f"{truth_path}: holds the truth of {recorded.get('data_file')}; write the simulation to another folder")
    if out.exists():
        if not out.is_file() or recorded.get("data_file") != out.name or recorded.get("data_fingerprint") != fingerprint(out):
            raise ValueError(f"{out}: exists and is not an earlier simulation; give a new file name")


def write(study: SimulatedStudy, out: str | Path) -> tuple[Path, Path]:
    """Write the tickets (Parquet or CSV, by suffix) and ``truth.json`` beside them.

    Parameters
    ----------
    study : SimulatedStudy
        Output of :func:`simulate`.
    out : str or Path
        Data file to write: ``.parquet`` or ``.csv`` (optionally ``.csv.gz``).

    Returns
    -------
    tuple of Path
        The data file and the truth file.
    """
    out = Path(out)
    if out.suffix != ".parquet" and ".csv" not in out.suffixes:
        raise ValueError(f"cannot write '{out.name}': use a .parquet or .csv file name")
    _refuse_to_overwrite(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        study.tickets.to_parquet(out, index=False, compression="zstd")
    else:
        study.tickets.to_csv(out, index=False)

    truth_path = out.parent / "truth.json"
    # The fingerprint ties the truth to this file: a different file beside it is never mistaken for it.
    truth = {**study.truth, "data_file": out.name, "data_fingerprint": fingerprint(out)}
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return out, truth_path
