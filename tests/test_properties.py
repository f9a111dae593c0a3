"""Property-based tests of the loader and the validator: whatever the values, a clear DataError or
a table with the contract's types; never another exception, never a silently lost row."""

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study.data import io, schema
from study.data.schema import DataError

MESSY = st.one_of(
    st.none(), st.integers(-10, 1000), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["yes", "no", "Y", "N", "1", "0", "true", "", " ", "2026-01-01", "1,5"]),
)
ROWS = 12
# The columns the analyses lean on most (only the ticket id is required of every file).
CORE = ["ticket_id", "customer_id", "created_at", "first_response_minutes", "resolved", "csat", "repeat_purchase"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validator_refuses_with_a_data_error_or_returns_every_row_typed(data):
    frame = pd.DataFrame({c: data.draw(st.lists(MESSY, min_size=ROWS, max_size=ROWS), label=c) for c in CORE})
    frame["ticket_id"] = [f"T{i}" for i in range(ROWS)]  # identifiers have their own property below
    try:
        out = schema.validate(frame, source="drawn")
    except DataError as error:
        message = str(error)
        assert message.startswith("drawn: ") and "\n" not in message
        return
    assert len(out) == ROWS
    assert out["csat"].dropna().between(1, 5).all()
    assert str(out["resolved"].dtype) == "boolean"
    assert (out["first_response_minutes"].dropna() >= 0).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=6)), min_size=ROWS, max_size=ROWS))
def test_repeated_or_empty_ticket_ids_are_always_named(ids):
    frame = pd.DataFrame({
        "ticket_id": ids, "customer_id": ["C"] * ROWS, "created_at": ["2026-01-01"] * ROWS,
        "first_response_minutes": [1.0] * ROWS, "resolved": [True] * ROWS, "csat": [3] * ROWS,
        "repeat_purchase": [False] * ROWS,
    })
    stripped = pd.Series(ids, dtype="string").str.strip()
    try:
        schema.validate(frame)
    except DataError as error:
        assert "ticket_id" in str(error)
        return
    assert stripped.notna().all() and stripped.is_unique


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet="0123456789ABCabc-_", min_size=1, max_size=8), min_size=1, max_size=30, unique=True))
def test_identifiers_survive_a_csv_round_trip_as_text(tmp_path_factory, ids):
    path = tmp_path_factory.mktemp("round_trip") / "t.csv"
    pd.DataFrame({"ticket_id": ids, "customer_id": ids, "x": range(len(ids))}).to_csv(path, index=False)
    frame, source = io.load(path)
    assert frame["ticket_id"].tolist() == ids and frame["customer_id"].tolist() == ids
    assert source.rows == len(ids)
