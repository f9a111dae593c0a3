"""``results.csv``: every estimate of a run's results files as one table, for spreadsheets and pandas.

One row per estimate of every ``results/<analysis>.json`` (:func:`study.core.results.write_results`),
with every field the file holds for it, and the data file's name and fingerprint on each row, so
that rows of two runs pasted into one sheet can still be told apart.

Two promises:

- **Same results, same bytes.** Files are read in name order, estimates in file order, numbers
  written as Python's shortest round-trip form (``repr``), ``extra`` as JSON with sorted keys, and
  lines end in ``\\n``. No time or folder goes in.
- **No formulas from data text.** A spreadsheet runs a cell starting with ``=``, ``+``, ``-`` or
  ``@`` (or a tab or carriage return before one) as a formula, and labels can hold text from the
  data (an arm or theme name). Every *text* cell starting with one of those characters, after any
  leading spaces, gets a leading apostrophe, which spreadsheets show as text; so does a text cell
  that already starts with an apostrophe, so that removing exactly one leading apostrophe from
  such a cell gives back the original (:func:`unescape`). Numbers are written by us, never
  prefixed, and stay numbers: ``-0.15`` is a number, a label ``-0.15`` is ``'-0.15``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# Estimate fields in the order of study.core.results.Estimate; fields a newer file adds follow, sorted.
ESTIMATE_FIELDS = ("name", "label", "value", "se", "ci_low", "ci_high", "ci_level", "p_value", "n", "method", "model",
                   "extra")
COLUMNS = ("data_file", "data_fingerprint", "analysis", *ESTIMATE_FIELDS)
NUMERIC = frozenset({"value", "se", "ci_low", "ci_high", "ci_level", "p_value", "n"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def text_cell(value) -> str:
    """A text cell a spreadsheet shows as text: a leading apostrophe before a formula character."""
    written = "" if value is None else str(value)
    return "'" + written if written.lstrip(" ").startswith(_FORMULA_START) else written


def unescape(cell: str) -> str:
    """The text :func:`text_cell` was given (for a cell read back from the file)."""
    return cell[1:] if cell.startswith("'") else cell


def number_cell(value) -> str:
    """A number as its shortest exact form; empty for a missing or non-finite one.

    Anything else (a file written by hand with a string where a number belongs) is text, and is
    treated as text cells are.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return text_cell(str(value).lower())
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return text_cell(value)


def json_cell(value) -> str:
    """``extra`` (or any nested field) as compact JSON with sorted keys; empty when there is none."""
    if value in (None, {}, []):
        return ""
    return text_cell(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def _cell(column: str, value) -> str:
    if column in NUMERIC:
        return number_cell(value)
    if isinstance(value, (dict, list)):
        return json_cell(value)
    return text_cell(value)


def read_payloads(results_dir: Path) -> list[dict]:
    """Every ``*.json`` of a results folder in name order.

    Raises
    ------
    ValueError
        Naming the file that is not readable JSON holding an object: a table that silently lacked
        an analysis would look complete.
    """
    payloads = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{path.name}: not readable JSON ({error})") from None
        if not isinstance(payload, dict):
            raise ValueError(f"{path.name}: not a results file (a JSON object with 'estimates')")
        payloads.append(payload)
    return payloads


def rows(payloads: Iterable[Mapping]) -> tuple[list[str], list[list[str]]]:
    """The header and the cells of every estimate of ``payloads``.

    Returns
    -------
    tuple
        Column names (:data:`COLUMNS`, then any other estimate field, sorted) and one list of cells
        per estimate.
    """
    payloads = list(payloads)
    estimates = [(p, e) for p in payloads for e in p.get("estimates") or [] if isinstance(e, Mapping)]
    others = sorted({k for _, e in estimates for k in e} - set(ESTIMATE_FIELDS))
    header = [*COLUMNS, *others]
    table = []
    for payload, estimate in estimates:
        data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
        known = {"data_file": data.get("file"), "data_fingerprint": data.get("fingerprint"),
                 "analysis": payload.get("analysis")}
        table.append([_cell(c, known[c] if c in known else estimate.get(c)) for c in header])
    return header, table


def csv_text(header: list[str], table: list[list[str]]) -> str:
    """The CSV text of a header and its rows: comma-separated, quoted where needed, ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(table)
    return buffer.getvalue()


def write_csv_atomic(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 with a byte-order mark (so spreadsheets read R² and arrows right), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as out:
        out.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for sharing
    os.replace(tmp, path)
    return path


def write_results_csv(results_dir: Path, path: Path) -> Path:
    """Write one row per estimate of every ``results/<analysis>.json`` in ``results_dir`` to ``path``.

    Parameters
    ----------
    results_dir : Path
        A run's ``results`` folder.
    path : Path
        The CSV file to write (replaced whole: a reader sees the old file or the new one).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When a results file is not readable JSON (the message names it).

    Notes
    -----
    Columns: ``data_file``, ``data_fingerprint``, ``analysis``, then every field of an estimate
    (``name``, ``label``, ``value``, ``se``, ``ci_low``, ``ci_high``, ``ci_level``, ``p_value``, ``n``,
    ``method``, ``model``, ``extra`` as JSON text). Read it back with
    ``pandas.read_csv(path, keep_default_na=False, na_values=[""])``; text cells that began with a
    formula character carry one leading apostrophe (module docstring).
    """
    header, table = rows(read_payloads(results_dir))
    return write_csv_atomic(path, csv_text(header, table))
