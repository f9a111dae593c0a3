"""Where things are: resolved from the package's own location, never from the current folder."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"
SAMPLE_DATA = DATA / "tickets.parquet"
DEFAULT_REPORTS = ROOT / "reports" / "latest"
# Data files up to this size are checked in the runner's own process while the kernel pool imports beside the
# checks, from the run's first moment; larger ones are prepared in a separate process, the pool started after.
SMALL_DATA_BYTES = 64 << 20

# The files the notebooks' parameters cells name by default, as written there: relative to notebooks/,
# where JupyterLab, nbval and `study run` start the kernel. papermill starts it in the caller's folder
# instead, so `papermill notebooks/01_data_overview.ipynb out.ipynb` from the project root would look
# for ../data beside the project. These texts, and no other path, are found from the project when the
# caller's folder has no such file (tests/test_config.py keeps the set in step with the notebooks).
NOTEBOOK_DEFAULTS = frozenset({
    "../data/tickets.parquet",
    "../data/rollout/tickets.parquet",
    "../data/examples/experiment.csv.gz",
    "../data/examples/experiment_columns.yml",
})

_noted: set[str] = set()


def input_path(path: str | Path) -> str | Path:
    """The file a notebook parameter names, with a notebook's own default found from any folder.

    A path that exists from the current folder, or that is not one of :data:`NOTEBOOK_DEFAULTS`, is
    returned unchanged: a file the user named is never swapped for another. A notebook default that
    does not exist from here is the project's file under ``notebooks/``, and a note on stderr (once
    per path) says which file is read.

    Parameters
    ----------
    path : str or Path
        A data file or column map as a notebook received it.

    Returns
    -------
    str or Path
        ``path`` itself, or the project's file for a notebook default.
    """
    text = Path(path).as_posix()
    if text not in NOTEBOOK_DEFAULTS or Path(path).exists():
        return path
    found = (NOTEBOOKS / text).resolve()
    if not found.is_file():
        return path
    if text not in _noted:
        _noted.add(text)
        print(f"note: {text} is the notebook's default, relative to notebooks/: reading the project's "
              f"{found.relative_to(ROOT).as_posix()}", file=sys.stderr)
    return found
