"""Where things are: resolved from the package's own location, never from the current folder."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"
SAMPLE_DATA = DATA / "tickets.parquet"
DEFAULT_REPORTS = ROOT / "reports" / "latest"
