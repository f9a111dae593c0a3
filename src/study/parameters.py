"""Notebook parameters from the command line: read as plain values, checked before anything runs.

``--param alpha=0.1`` arrives as text. It is read as a plain scalar (an integer, a number, true /
false, or else the text itself: no YAML tags, no dates, nothing evaluated), converted to the type
the notebook's ``parameters`` cell declares, and checked against the allowed range below, so that a
typo is one line naming the parameter and what it accepts, not a notebook that fails halfway.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

_INTEGER = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class ParameterError(ValueError):
    """A parameter has the wrong type or lies outside its range."""


@dataclass(frozen=True)
class Allowed:
    """The values a parameter accepts: ``low``/``high`` bounds, open or closed, and words for messages."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: str = ""

    def admits(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))


ALLOWED = {
    "alpha": Allowed(0, 0.5, low_open=True, words="a number in (0, 0.5], e.g. 0.05"),
    "srm_alpha": Allowed(0, 0.5, low_open=True, words="a number in (0, 0.5], e.g. 0.001"),
    "treatment_share": Allowed(0, 1, low_open=True, high_open=True, words="a share in (0, 1), e.g. 0.5"),
    "relative_mde": Allowed(0, 10, low_open=True, words="a relative lift in (0, 10], e.g. 0.05 for 5%"),
    "repeat_margin": Allowed(0, 1, low_open=True, words="a share in (0, 1], e.g. 0.01 for one percentage point"),
    "response_margin": Allowed(0, 1, low_open=True, words="a share in (0, 1], e.g. 0.02 for two percentage points"),
    "spend_margin": Allowed(0, None, low_open=True, words="a positive amount of money, e.g. 2.0"),
    # Fewer than 10 replicates give no percentile interval at all; a few hundred give rough ones,
    # which is what a quick exploratory run asks for.
    "bootstrap": Allowed(10, 1_000_000, words="a whole number from 10 to 1,000,000"),
    "replicates": Allowed(10, 1_000_000, words="a whole number from 10 to 1,000,000"),
    "model_tickets": Allowed(0, None, words="0 (every ticket) or a whole number of at least 1,000"),
    "seed": Allowed(0, 2**32 - 1, words="a whole number from 0 to 4,294,967,295"),
    # A chart needs a center and a spread from at least two weeks, and a week's standard error two tickets.
    "baseline_weeks": Allowed(2, 520, words="a whole number of weeks from 2 to 520, e.g. 8"),
    "min_week_n": Allowed(2, None, words="a whole number of at least 2, e.g. 20"),
    # The model is trained on the months before the last test_months and tested on those.
    "test_months": Allowed(1, 120, words="a whole number of months from 1 to 120, e.g. 2"),
    "sla_minutes": Allowed(0, 525_600, low_open=True, words="a number of minutes in (0, 525,600], e.g. 60"),
    # NMF needs two topics to separate anything; beyond 30 no reader compares them.
    "discovered_themes": Allowed(2, 30, words="a whole number from 2 to 30, e.g. 6"),
}


def plain_scalar(text: str) -> int | float | bool | str:
    """``text`` as an integer, a number, ``true``/``false``, or else the text itself."""
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    return stripped


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """``["alpha=0.1", ...]`` as ``{"alpha": "0.1"}``: values stay text until :func:`check` types them.

    Raises
    ------
    ParameterError
        For an item without ``=``, an empty name, or a name given twice.
    """
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--param takes key=value, got '{pair[:80]}'")
        if key in params:
            raise ParameterError(f"--param {key} is given twice")
        params[key] = value
    return params


def _typed(name: str, value, kind: str):
    """``value`` (text from the command line, or a Python value from a caller) as ``kind``."""
    if kind == "list":
        if isinstance(value, (list, tuple)):
            items = [str(v).strip() for v in value]
        else:
            text = str(value).strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            items = [part.strip().strip("'\"") for part in text.split(",")] if text.strip() else []
        if any(not item for item in items):
            raise ParameterError(f"parameter '{name}' must be a comma-separated list of names, got {str(value)[:80]!r}")
        return items
    plain = plain_scalar(value) if isinstance(value, str) else value
    if kind == "int":
        if isinstance(plain, float) and plain.is_integer() and abs(plain) < 2**53:
            plain = int(plain)
        if isinstance(plain, bool) or not isinstance(plain, int):
            raise ParameterError(f"parameter '{name}' must be {_words(name, 'a whole number')}, got {str(value)[:80]!r}")
        return plain
    if kind == "float":
        if isinstance(plain, bool) or not isinstance(plain, (int, float)) or not math.isfinite(plain):
            raise ParameterError(f"parameter '{name}' must be {_words(name, 'a number')}, got {str(value)[:80]!r}")
        return float(plain)
    if kind == "bool":
        if not isinstance(plain, bool):
            raise ParameterError(f"parameter '{name}' must be true or false, got {str(value)[:80]!r}")
        return plain
    return str(value)


def _words(name: str, fallback: str) -> str:
    return ALLOWED[name].words if name in ALLOWED else fallback


def check(params: dict, declared: dict[str, str]) -> dict:
    """The parameters typed as their notebooks declare them and checked against :data:`ALLOWED`.

    Parameters
    ----------
    params : dict
        Name -> value (text from ``--param``, or a Python value).
    declared : dict
        Name -> the type a notebook's ``parameters`` cell declares (``float``, ``int``, ``list``,
        ``str``, ...), as papermill's ``inspect_notebook`` reports it.

    Returns
    -------
    dict
        Name -> value of the declared type.

    Raises
    ------
    ParameterError
        One line naming the parameter, what it accepts and what it got.
    """
    typed = {}
    for name, value in params.items():
        kind = declared.get(name, "str")
        if kind.startswith("Optional"):  # Optional[list] is a list when given; any other Optional, text
            kind = "list" if kind.removeprefix("Optional[").rstrip("]") == "list" else "str"
        converted = _typed(name, value, kind)
        allowed = ALLOWED.get(name)
        if allowed is not None and not allowed.admits(converted):
            raise ParameterError(f"parameter '{name}' must be {allowed.words}, got {str(value)[:80]!r}")
        if name == "model_tickets" and 0 < converted < 1000:
            raise ParameterError(f"parameter 'model_tickets' must be {ALLOWED['model_tickets'].words}, got {str(value)[:80]!r}")
        typed[name] = converted
    return typed


# Set by the run, not by --param: the data and where results go, and the engine (--engine, --spark-master).
RUNNER_PARAMETERS = {"data_path", "results_dir", "columns_path", "engine", "spark_master"}
ENGINE_PARAMETERS = ("engine", "spark_master")
# Files a notebook reads besides the data. Given, each is resolved from the folder the command runs in
# (the notebooks run in notebooks/) and must exist. Not given, it is None: a notebook's default points
# at our sample, which says nothing about the user's data.
FILE_PARAMETERS = {"pilot_path"}


def declared_parameters(notebook: str | Path) -> dict[str, dict[str, str]]:
    """The parameters a notebook's cell tagged ``parameters`` declares, as papermill's ``inspect_notebook`` gives them.

    Read from the notebook's JSON and the cell's syntax tree rather than through papermill, whose import
    (0.2-0.4 s) would hold up the start of every run that checks its parameters before any notebook starts.

    Parameters
    ----------
    notebook : str or Path
        An ``.ipynb`` file.

    Returns
    -------
    dict
        ``{name: {"name", "inferred_type_name", "default", "help"}}`` in the cell's order: the annotation as
        written (``"None"`` without one), the default's source text and the comment ending its line.
    """
    import ast
    import io
    import json
    import tokenize

    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    tagged = [cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if not tagged:
        return {}
    source = tagged[0]["source"]
    source = "".join(source) if isinstance(source, list) else source
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, kind = node.target.id, ast.get_source_segment(source, node.annotation).strip("\"'")
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, kind = node.targets[0].id, "None"
        else:
            continue
        found[name] = {"name": name, "inferred_type_name": kind, "default": ast.get_source_segment(source, node.value),
                       "help": comments.get(node.end_lineno, "")}
    return found


def split_parameters(params: dict, notebooks: list[Path], engine: dict | None = None) -> dict[str, dict]:
    """Give each notebook only the parameters it declares, typed and checked (:func:`check`).

    ``engine`` (``{"engine": ..., "spark_master": ...}``, checked by :func:`study.engine.check_engine`)
    goes to the notebooks that declare those parameters: those whose aggregations an engine runs.

    Raises
    ------
    ValueError
        Naming an unknown parameter and the known ones, or a value of the wrong type or range.
    """
    declared = {nb.stem: declared_parameters(nb) for nb in notebooks}
    types = {name: info["inferred_type_name"] for infos in declared.values() for name, info in infos.items()}
    known = sorted(set(types) - RUNNER_PARAMETERS)
    for name in params:
        if name in ENGINE_PARAMETERS:
            raise ValueError(f"'{name}' is chosen with --{name.replace('_', '-')}, not --param")
        if name not in known:
            raise ValueError(f"unknown parameter '{name}' (notebook parameters: {', '.join(known)})")
    typed = check(params, types)
    for name in FILE_PARAMETERS & set(typed):
        path = Path(str(typed[name])).expanduser().resolve()
        if not path.is_file():
            raise ParameterError(f"parameter '{name}' must be an existing data file, got {str(params[name])[:80]!r}")
        typed[name] = str(path)
    chosen = {k: v for k, v in (engine or {}).items() if k in ENGINE_PARAMETERS}
    return {stem: {**{k: None for k in FILE_PARAMETERS & set(names)}, **{k: v for k, v in typed.items() if k in names},
                   **{k: v for k, v in chosen.items() if k in names}}
            for stem, names in declared.items()}
