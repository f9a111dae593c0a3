import pytest

from study import simulate
from study.dataset import load_tickets


@pytest.fixture(scope="session")
def small_study_path(tmp_path_factory):
    """A 3,000-ticket simulation written as Parquet, with its truth.json beside it."""
    folder = tmp_path_factory.mktemp("small_study")
    data_file, _ = simulate.write(simulate.simulate(rows=3_000, seed=7), folder / "tickets.parquet")
    return data_file


@pytest.fixture(scope="session")
def small_data(small_study_path):
    return load_tickets(small_study_path)
