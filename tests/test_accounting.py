import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study.core.accounting import RowLedger
from study.data.dataset import from_frame
from study.data.schema import BY_NAME
from tests.ledgers import all_ledgers


def test_rows_in_equal_rows_used_plus_every_drop():
    frame = pd.DataFrame({"csat": [1, None, 3, None, 5], "channel": ["a", "b", None, "c", "d"]})
    ledger = RowLedger(frame)
    ledger.keep(frame["csat"].notna(), "no survey answer")
    ledger.require(["channel"])
    counts = ledger.as_dict()
    assert counts == {"in": 5, "used": 2, "dropped": {"no survey answer": 2, "missing channel": 1}}
    assert counts["in"] == counts["used"] + sum(counts["dropped"].values())


def test_table_shows_drops_as_negative_counts():
    ledger = RowLedger(pd.DataFrame({"x": [1, 2, 3]}))
    ledger.keep(pd.Series([True, False, True]), "odd")
    assert ledger.table()["rows"].tolist() == [3, -1, 2]


def test_reasons_without_drops_are_left_out():
    ledger = RowLedger(pd.DataFrame({"x": [1, 2]}))
    ledger.require(["x"])
    assert ledger.as_dict()["dropped"] == {}


# --- Every analysis accounts for every row of its input -------------------------------------------------

@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_analysis_counts_every_row_it_was_given(small_data, data):
    """Rows in = rows used + every reason's rows dropped, and rows in = the rows read (a filter's too), for
    the overview, the satisfaction and repeat-purchase models, the SLA experiment and the driver analysis,
    whatever is missing where."""
    from study import drivers
    from study.ab.sla import sla_experiment
    from study.data.overview import summarize
    from study.regression import models

    tickets = small_data.tickets[[c for c in small_data.tickets.columns if c in BY_NAME]].head(1_500).copy()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    for column in data.draw(st.lists(st.sampled_from(["csat", "first_response_minutes", "resolved", "channel",
                                                      "category", "repeat_purchase"]), max_size=4, unique=True),
                            label="columns with holes"):
        holes = rng.random(len(tickets)) < data.draw(st.floats(0.0, 0.5), label=f"share missing in {column}")
        tickets[column] = tickets[column].astype(object).where(~holes)
    filtered = data.draw(st.integers(0, 300), label="rows a filter set aside")
    loaded = dataclasses.replace(from_frame(tickets), set_aside={"excluded by the column map's filter: x = 1": filtered})
    rows_read = len(tickets) + filtered
    results = {
        "overview": summarize(loaded).rows,
        "satisfaction": models.satisfaction_drivers(loaded).ledger.as_dict(),
        "repeat": {name: ledger.as_dict() for name, ledger in models.repeat_purchase(loaded).ledgers.items()},
        "experiment": sla_experiment(loaded).experiment.ledger.as_dict(),
        "drivers": drivers.analyse(loaded, "csat", "first_response_minutes", ["category"], "customer_id").rows,
    }
    for name, rows in results.items():
        assert list(all_ledgers(rows)), name  # every analysis has its ledger
        for ledger in all_ledgers(rows):
            assert ledger["in"] == ledger["used"] + sum(ledger["dropped"].values()), (name, ledger)
            assert ledger["in"] == rows_read, (name, ledger, rows_read)
