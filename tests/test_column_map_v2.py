"""Column map v2: derive, filter, signed durations, constants, copies, units, date formats, any CSAT
scale, day-first dates, the unit plausibility note, and the rows filters exclude counted to the end."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study import cli, config
from study.core.accounting import RowLedger
from study.data import column_map, convert, dataset, examples, schema, simulate
from study.data.column_map import TicketMap, csat_to_five, map_tickets, read_ticket_map
from study.data.schema import DataError

HOURS_EXPORT = config.DATA / "examples" / "tickets_hours_export.csv"
HOURS_MAP = config.DATA / "examples" / "tickets_hours_columns.yml"
ORDERS = pd.DataFrame({
    "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
    "order_status": ["delivered", "delivered", "canceled", "delivered", "delivered", None],
    "purchased_at": ["02/01/2026 10:00", "03/01/2026 11:00", "04/01/2026 12:00", "13/01/2026 09:00", "20/01/2026 08:00", "21/01/2026 08:00"],
    "delivered_at": ["2026-01-05 10:00", "2026-01-06 12:00", None, "2026-01-14 09:00", "2026-01-30 08:00", None],
    "estimated_at": ["2026-01-07", "2026-01-06", "2026-01-08", "2026-01-13", "2026-01-25", "2026-01-26"],
    "review_score": [5, 4, 1, 3, 1, 2],
})


# Contract columns a table needs whatever the analysis (before requirements per analysis): constants.
REQUIRED_EXTRAS = {"first_response_minutes": 5.0, "resolved": True, "repeat_purchase": False, "csat": 3,
                   "created_at": pd.Timestamp("2026-01-01"), "customer_id": "x"}


def write(tmp_path, text, name="map.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


ORDERS_MAP = """
tickets:
  date_formats: {purchased_at: "%d/%m/%Y %H:%M"}
  derive:
    delivery_delay_days: "days(delivered_at - estimated_at)"
    late: "delivery_delay_days > 0"
    channel: "'web'"
    csat_raw: "review_score"
  filter:
    - "order_status = 'delivered'"
    - "delivered_at is not null"
  columns:
    ticket_id: order_id
    customer_id: order_id
    created_at: purchased_at
    csat: review_score
"""


def test_an_orders_export_becomes_tickets_with_derived_columns_and_filtered_rows(tmp_path):
    mapped = map_tickets(ORDERS, read_ticket_map(write(tmp_path, ORDERS_MAP)), "orders.csv")
    out = mapped.frame
    # Filters in order: the canceled order, then the order of unknown status (null is not true).
    assert mapped.excluded == {"order_status = 'delivered'": 2, "delivered_at is not null": 0}
    assert mapped.set_aside == {"excluded by the column map's filter: order_status = 'delivered'": 2}
    assert out.index.tolist() == [0, 1, 3, 4]  # the export's rows, for messages
    assert out["delivery_delay_days"].tolist() == pytest.approx([-2 + 10 / 24, 0.5, 1 + 9 / 24, 5 + 8 / 24])
    assert out["late"].tolist() == [False, True, True, True]
    assert (out["channel"] == "web").all() and out["csat_raw"].tolist() == out["csat"].tolist() == [5, 4, 3, 1]
    assert out["ticket_id"].tolist() == out["customer_id"].tolist() == ["o1", "o2", "o4", "o5"]
    assert out["created_at"].tolist() == [pd.Timestamp(f"2026-01-{d} {h}:00") for d, h in (("02", 10), ("03", 11), ("13", "09"), ("20", "08"))]
    assert mapped.mapped_from["customer_id"] == "order_id" and mapped.notes["created_at"] == "read with the declared format %d/%m/%Y %H:%M"
    # ... and passes the contract (a derived flag stays a flag, a text constant text).
    tickets, _ = schema.conform(pd.concat([out] * 3, ignore_index=True).assign(
        ticket_id=lambda t: [f"t{i}" for i in range(len(t))], **REQUIRED_EXTRAS))
    assert tickets["late"].dtype == "boolean" and tickets["csat"].dtype == "Int64"


def test_a_later_derive_filter_duration_and_column_use_a_derived_name():
    frame = pd.DataFrame({"a": ["2026-01-01", "2026-01-02", "2026-01-03"], "n": [1, 2, 3]})
    mapping = TicketMap(derive={"start": "time(a)", "twice": "n * 2", "big": "twice > 2"}, filters=("big",),
                        durations={"first_response_minutes": ("start", "start")}, columns={"contacts": "twice"})
    mapped = map_tickets(frame, mapping)
    assert mapped.frame["contacts"].tolist() == [4.0, 6.0] and mapped.excluded == {"big": 1}
    assert mapped.frame["first_response_minutes"].tolist() == [0.0, 0.0]


def test_signed_durations_may_be_negative_and_take_the_unit_of_their_name():
    frame = pd.DataFrame({"due": ["2026-01-03 00:00", "2026-01-03 00:00"], "done": ["2026-01-01 12:00", "2026-01-04 06:00"]})
    mapping = TicketMap(durations={"delay_days": ("due", "done", True), "delay_hours": ("due", "done", True)})
    out = map_tickets(frame, mapping).frame
    assert out["delay_days"].tolist() == [-1.5, 1.25] and out["delay_hours"].tolist() == [-36.0, 30.0]
    with pytest.raises(DataError, match=r"'done' has 1 value that is before 'due'.* in row 1; durations outside the contract may be declared signed: true"):
        map_tickets(frame, TicketMap(durations={"delay_days": ("due", "done")}))
    # The contract's tenure is in days.
    assert map_tickets(frame.iloc[1:], TicketMap(durations={"tenure_days": ("due", "done")})).frame["tenure_days"].tolist() == [1.25]


@pytest.mark.parametrize("unit, factor", [("seconds", 1 / 60), ("minutes", 1), ("hours", 60), ("days", 1440)])
def test_units_convert_to_the_contracts_minutes_and_days(unit, factor):
    frame = pd.DataFrame({"reply": [0.5, 2, 30], "tenure": [48, 24, 12]})
    mapping = TicketMap(columns={"first_response_minutes": "reply", "tenure_days": "tenure"},
                        units={"first_response_minutes": unit, "tenure_days": "hours"})
    mapped = map_tickets(frame, mapping)
    assert mapped.frame["first_response_minutes"].tolist() == pytest.approx([0.5 * factor, 2 * factor, 30 * factor])
    assert mapped.frame["tenure_days"].tolist() == pytest.approx([2, 1, 0.5])
    assert mapped.notes["first_response_minutes"] == f"converted from {unit} to minutes"


def test_one_column_serves_several_roles_and_a_swap_is_still_a_rename():
    frame = pd.DataFrame({"id": ["a", "b"], "customer_id": ["x", "y"], "ticket_id": ["p", "q"]})
    out = map_tickets(frame, TicketMap(columns={"ticket_id": "id", "customer_id": "id", "agent_id": "id"})).frame
    assert out[["ticket_id", "customer_id", "agent_id"]].values.tolist() == [["a", "a", "a"], ["b", "b", "b"]]
    swapped = map_tickets(frame, TicketMap(columns={"ticket_id": "customer_id", "customer_id": "ticket_id"})).frame
    assert swapped["ticket_id"].tolist() == ["x", "y"] and swapped["customer_id"].tolist() == ["p", "q"]


# --- CSAT scales ------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale, answers, expected", [
    ("1-5", range(1, 6), [1, 2, 3, 4, 5]),
    ("1-10", range(1, 11), [math.ceil(x / 2) for x in range(1, 11)]),  # the rule kept from v1
    ("0-100", range(0, 101), [1 + min(4, x // 20) for x in range(0, 101)]),  # the rule kept from v1
    ("0-10", range(0, 11), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]),
    ("1-7", range(1, 8), [1, 1, 2, 3, 4, 5, 5]),
    ("0-4", range(0, 5), [1, 2, 3, 4, 5]),
    ("1-3", range(1, 4), [1, 3, 5]),
])
def test_every_scale_is_binned_by_the_one_documented_rule(scale, answers, expected):
    out = column_map.apply(pd.DataFrame({"csat": list(answers)}), TicketMap(csat_scale=scale))
    assert out["csat"].tolist() == expected


@given(st.integers(0, 20), st.integers(1, 200))
def test_the_rule_uses_the_whole_1_to_5_scale_in_order(low, width):
    high = low + width
    answers = pd.Series(np.arange(low, high + 1), dtype=float)
    binned = csat_to_five(answers, low, high)
    assert binned.iloc[0] == 1 and binned.iloc[-1] == 5 and binned.is_monotonic_increasing
    assert set(binned) <= {1, 2, 3, 4, 5}
    if width % 2 == 0:  # the middle of an odd number of points is the middle of 1-5
        assert binned.iloc[width // 2] == 3


def test_a_scale_note_spells_out_the_bands():
    mapped = map_tickets(pd.DataFrame({"csat": [0, 10]}), TicketMap(csat_scale="0-10"))
    assert mapped.notes["csat"] == "answers on 0-10 binned onto 1-5 (0-1 -> 1, 2-3 -> 2, 4-5 -> 3, 6-7 -> 4, 8-10 -> 5)"


# --- The map is checked before the data is read -------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("tickets: {filters: [\"a = 1\"]}", r"unknown key 'filters' in the tickets section \(did you mean 'filter'\?\)"),
    ("tickets: {unit: {first_response_minutes: hours}}", r"did you mean 'units'\?"),
    ("tickets: {units: {first_reponse_minutes: hours}}", r"units: 'first_reponse_minutes' is not a duration of the contract \(did you mean 'first_response_minutes'\?\)"),
    ("tickets: {units: {first_response_minutes: hour}}", r"'hour' is not a unit \(did you mean 'hours'\?\)"),
    ("tickets: {durations: {x_days: {from: a, to: b, sign: true}}}", r"unknown key 'sign' in duration 'x_days' \(did you mean 'signed'\?\)"),
    ("tickets: {durations: {x_days: {from: a, to: b, signed: 'yes'}}}", r"signed is true or false"),
    ("tickets: {durations: {first_response_minutes: {from: a, to: b, signed: true}}}", r"cannot be negative"),
    ("tickets: {durations: {delay: {from: a, to: b}}}", r"names its unit by its ending"),
    ("tickets: {durations: {first_respons_minutes: {from: a, to: b}}}", r"did you mean the contract's 'first_response_minutes'\?"),
    ("tickets: {durations: {csat: {from: a, to: b}}}", r"not a duration of the contract"),
    ("tickets: {durations: {resolution_minutes: {from: a, to: b}}, units: {resolution_minutes: hours}}", r"computed by durations"),
    ("tickets: {derive: {prior_order: \"1\"}}", r"did you mean the contract's 'prior_orders'\?"),
    ("tickets: {derive: {late: \"a > (b\"}}", r"""map.yml: derive 'late': expected '\)' to close '\(', found the end at character 7: "a > \(b\[here\]\""""),
    ("tickets: {derive: {a2: \"a1 + 1\", a1: \"2\"}}", r"derive 'a2' uses 'a1', which is derived below it; move it above"),
    ("tickets: {derive: {a1: \"a1 + 1\"}}", r"derived by this very line"),
    ("tickets: {derive: {a1: null}}", r"derive 'a1' is empty"),
    ("tickets: {filter: [\"a = 1\", \"a = 1\"]}", r"listed twice"),
    ("tickets: {filter: [\"a = \"]}", r"filter 'a = ': expected a value"),
    ("tickets: {date_formats: {opened: \"%d/%m/%Q\"}}", r"is not a strptime format"),
    ("tickets: {date_formats: {opened: \"dd/mm/yyyy\"}}", r"is not a strptime format"),
    ("tickets: {csat_scale: ten}", r"csat_scale 'ten' is not a scale low-high"),
    ("tickets: {csat_scale: 5-5}", r"is not a scale low-high"),
    ("tickets: {columns: {csat: x}, derive: {csat: \"y\"}}", r"'csat' is made by both derive and columns"),
    ("tickets: {columns: {csta: x}}", r"not contract columns: 'csta' \(did you mean 'csat'\?\)"),
])
def test_every_key_and_expression_of_the_map_is_checked(tmp_path, text, message):
    with pytest.raises(DataError, match=message) as error:
        read_ticket_map(write(tmp_path, text))
    assert "\n" not in str(error.value)


def test_a_key_written_twice_is_refused_not_overwritten(tmp_path):
    text = "tickets:\n  derive:\n    late: \"a > b\"\n    late: \"a >= b\"\n"
    with pytest.raises(DataError, match=r"map.yml: key 'late' appears twice in one mapping \(line 4\)"):
        read_ticket_map(write(tmp_path, text))


def test_a_drivers_section_is_a_known_section(tmp_path):
    path = write(tmp_path, "tickets: {columns: {csat: score}}\ndrivers: {outcome: csat, driver: delay_days}\n")
    assert read_ticket_map(path).columns == {"csat": "score"}
    assert column_map.read_yaml_section(path, "drivers") == {"outcome": "csat", "driver": "delay_days"}


def test_constants_and_yaml_scalars_are_expressions(tmp_path):
    mapping = read_ticket_map(write(tmp_path, "tickets: {derive: {weight: 2, pilot: true, channel: \"'web'\"}}"))
    out = map_tickets(pd.DataFrame({"x": [1, 2]}), mapping).frame
    assert out["weight"].tolist() == [2.0, 2.0] and out["pilot"].tolist() == [True, True] and out["channel"].tolist() == ["web"] * 2


# --- Applying the map to data -------------------------------------------------------------------------

@pytest.mark.parametrize("mapping, message", [
    (TicketMap(derive={"late": "delivred_at > estimated_at"}), r"orders.csv: derive 'late': no column 'delivred_at' \(did you mean 'delivered_at'\?\)"),
    (TicketMap(filters=("status = 'delivered'",)), r"filter \"status = 'delivered'\": no column 'status' \(did you mean 'order_status'\?\)"),
    (TicketMap(derive={"channel": "web"}), r"no column 'web' \(text is written in single quotes: 'web'\)"),
    (TicketMap(filters=("csat > 3",), columns={"csat": "review_score"}), r"'csat' is the contract name the map gives 'review_score' later"),
    (TicketMap(derive={"order_status": "'x'"}), r"derive 'order_status' would replace the data's own column"),
    (TicketMap(filters=("order_status = 'lost'",)), r"the column map's filters leave no rows \(\"order_status = 'lost'\" excluded 6\)"),
    (TicketMap(date_formats={"purchased": "%d/%m/%Y"}), r"names columns the data lacks: 'purchased' \(date_formats; did you mean 'purchased_at'\?\)"),
    (TicketMap(date_formats={"purchased_at": "%d/%m/%Y"}), r"'purchased_at' has 6 values that are not in the declared format '%d/%m/%Y'"),
    (TicketMap(columns={"csat": "review_scor"}), r"names columns the data lacks: 'review_scor' \(columns; did you mean 'review_score'\?\)"),
    (TicketMap(units={"first_response_minutes": "hours"}), r"units: first_response_minutes is not in the data"),
])
def test_a_map_that_does_not_fit_the_data_says_why(mapping, message):
    with pytest.raises(DataError, match=message) as error:
        map_tickets(ORDERS, mapping, "orders.csv")
    assert "\n" not in str(error.value)


def test_messages_after_a_filter_name_the_exports_rows():
    frame = pd.DataFrame({"keep": [0, 0, 1, 1, 1], "score": [3, 3, 4, 11, 2]})
    with pytest.raises(DataError, match=r"'csat' has 1 value outside the declared 1-10 scale \(e.g. 11\) in row 4$"):
        map_tickets(frame, TicketMap(filters=("keep = 1",), columns={"csat": "score"}, csat_scale="1-10"))
    frame = pd.DataFrame({"keep": [0, 0] + [1] * 10, "ticket_id": ["a", "b", "c", "d", "d"] + [f"t{i}" for i in range(7)],
                          })
    kept = map_tickets(frame, TicketMap(filters=("keep = 1",))).frame.assign(**REQUIRED_EXTRAS)
    with pytest.raises(DataError, match=r"'ticket_id' has 2 values that are repeated \(e.g. 'd'\) in rows 4, 5"):
        schema.conform(kept)


def test_missing_codes_come_first_and_leave_numbers_as_numbers():
    frame = pd.DataFrame({"score": ["8", "-", "10"], "account": ["007", "-", "9"]})
    mapping = TicketMap(missing_values=("-",), derive={"score_raw": "score"}, columns={"customer_id": "account", "csat": "score"},
                        csat_scale="0-10")
    out = map_tickets(frame, mapping).frame
    assert out["score_raw"].tolist()[::2] == [8.0, 10.0] and out["csat"].tolist()[::2] == [5, 5]
    assert out["customer_id"].tolist()[::2] == ["007", "9"]  # an identifier stays text


# --- Day-first dates -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 12, 31)).map(lambda t: t.replace(microsecond=0)),
                min_size=1, max_size=20),
       st.sampled_from(["/", ".", "-"]))
def test_day_first_dates_are_read_day_first_when_a_day_proves_it(times, separator):
    times = [*times, dt.datetime(2026, 1, 13, 8, 30)]  # one day above 12 proves the order
    text = pd.Series([t.strftime(f"%d{separator}%m{separator}%Y %H:%M:%S") for t in times])
    read, problem, note = convert.to_time(text, "opened")
    assert problem is None and read.tolist() == [pd.Timestamp(t) for t in times]
    assert note.startswith("dates read day first (dd/mm)")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)), min_size=1, max_size=20))
def test_month_first_dates_with_a_day_above_12_are_read_month_first(dates):
    dates = [*dates, dt.date(2026, 1, 13)]
    read, problem, _ = convert.to_time(pd.Series([d.strftime("%m/%d/%Y") for d in dates]), "opened")
    assert problem is None and read.dt.date.tolist() == dates


def test_iso_times_beside_day_first_dates_keep_their_order():
    read, problem, _ = convert.to_time(pd.Series(["13/01/2026", "2026-01-02 05:00", "02/03/2026"]), "opened")
    assert problem is None
    assert read.tolist() == [pd.Timestamp("2026-01-13"), pd.Timestamp("2026-01-02 05:00"), pd.Timestamp("2026-03-02")]


def test_both_orders_in_one_column_are_refused_pointing_to_date_formats():
    frame = simulate.simulate(rows=20, seed=1).tickets.astype({"created_at": object})
    frame.loc[:3, "created_at"] = ["13/01/2026", "01/14/2026", "01/15/2026", "05/01/2026"]
    with pytest.raises(DataError) as error:
        schema.conform(frame)
    message = str(error.value)
    assert "column 'created_at' mixes day-first and month-first dates: 1 with a first field above 12 (e.g. '13/01/2026') in row 1" in message
    assert "2 with a second field above 12 (e.g. '01/14/2026', '01/15/2026') in rows 2, 3" in message
    assert 'date_formats: {created_at: "%d/%m/%Y"}' in message and "\n" not in message


def test_dates_that_cannot_tell_the_order_are_read_month_first_with_a_note():
    read, problem, note = convert.to_time(pd.Series(["01/02/2026", "03/04/2026", "05/05/2026"]), "opened")
    assert problem is None and read.tolist() == [pd.Timestamp("2026-01-02"), pd.Timestamp("2026-03-04"), pd.Timestamp("2026-05-05")]
    assert "read month first (mm/dd)" in note and "date_formats" in note


def test_a_declared_format_wins_over_the_guess():
    frame = pd.DataFrame({"opened": ["01/02/2026", "03/04/2026"]})
    out = map_tickets(frame, TicketMap(date_formats={"opened": "%d/%m/%Y"}, columns={"created_at": "opened"})).frame
    assert out["created_at"].tolist() == [pd.Timestamp("2026-02-01"), pd.Timestamp("2026-04-03")]
    assert map_tickets(frame, TicketMap(date_formats={"opened": "%d/%m/%Y"}, derive={"d": "days(opened - time('2026-02-01'))"})
                       ).frame["d"].tolist() == [0.0, 61.0]


# --- The unit plausibility note -----------------------------------------------------------------------

def test_the_sample_data_gives_no_unit_note():
    assert dataset.load_tickets(config.SAMPLE_DATA).notes.get("first_response_minutes") is None


def test_hours_and_seconds_given_as_minutes_are_noted_and_never_refused():
    minutes = simulate.simulate(rows=2_000, seed=4).tickets["first_response_minutes"]
    assert convert.unit_note(minutes) is None
    hours = convert.unit_note(minutes / 60)
    assert hours.startswith("values look like hours, not minutes (median 0.") and "declare units: {first_response_minutes: hours}" in hours
    assert f"median {(minutes / 60).median():.2f}, longest {(minutes / 60).max():.1f}" in hours
    assert convert.unit_note(minutes * 60).startswith("values look like seconds, not minutes (median 1,")
    assert convert.unit_note(minutes[:29] / 60) is None  # too few values to judge


def test_the_hours_example_without_its_units_gets_the_note(tmp_path):
    content = yaml.safe_load(HOURS_MAP.read_text())
    del content["tickets"]["units"]
    data = dataset.load_tickets(HOURS_EXPORT, columns=write(tmp_path, yaml.safe_dump(content)))
    assert data.notes["first_response_minutes"].startswith("values look like hours, not minutes (median 0.5")
    declared = dataset.load_tickets(HOURS_EXPORT, columns=HOURS_MAP).notes["first_response_minutes"]
    assert declared == "converted from hours to minutes"


# --- Rows excluded by filters, to the end --------------------------------------------------------------

def test_filtered_rows_are_set_aside_and_survive_the_prepared_copy(tmp_path):
    data = dataset.load_tickets(HOURS_EXPORT, columns=HOURS_MAP)
    reason = "excluded by the column map's filter: customer != 'QA-TEST'"
    assert data.set_aside == {reason: examples.hours_export.__defaults__[0]}
    assert "random sample" not in data.sample_note()  # a filter is not a model sample
    assert data.sample_note().startswith("**Rows set aside before any analysis:** 24 excluded")
    copy = dataset.load_tickets(dataset.write_prepared(data, tmp_path / "prepared.parquet"))
    assert copy.set_aside == data.set_aside and copy.notes == data.notes
    ledger = RowLedger(copy.tickets, copy.set_aside)
    assert ledger.rows_in == data.source.rows == len(copy.tickets) + 24
    sampled = dataset.load_tickets(tmp_path / "prepared.parquet", max_tickets=1_000, seed=3)
    assert reason in sampled.set_aside and len(sampled.tickets) + sum(sampled.set_aside.values()) == data.source.rows
    first, second = sampled.sample_note().split("\n\n")  # the filter's rows, then the sample: each said once
    assert "QA-TEST" in first and second.startswith("**Models fit on a random sample**") and "QA-TEST" not in second


VALUES = st.one_of(st.none(), st.integers(-2, 2))


@st.composite
def filters(draw):
    column = draw(st.sampled_from(["x", "y", "z"]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"{column} {draw(st.sampled_from(['=', '!=', '<', '>=']))} {draw(st.integers(-2, 2))}"
    if kind == 1:
        return f"{column} is {draw(st.sampled_from(['', 'not ']))}null"
    if kind == 2:
        return f"{column} in ({draw(st.integers(-2, 2))}, {draw(st.integers(-2, 2))})"
    return f"{column} > {draw(st.sampled_from(['x', 'y', 'z']))} or {column} = 0"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=30), st.lists(filters(), min_size=1, max_size=4, unique=True))
def test_rows_in_are_rows_kept_plus_every_filters_count(rows, texts):
    frame = pd.DataFrame(rows, columns=["x", "y", "z"], dtype=float)
    try:
        mapped = map_tickets(frame, TicketMap(filters=tuple(texts)))
    except DataError as error:
        assert "leave no rows" in str(error)
        return
    assert len(frame) == len(mapped.frame) + sum(mapped.excluded.values())
    assert list(mapped.excluded) == texts
    # Each filter counts what it removed from the rows the filters before it kept.
    remaining = frame
    for text in texts:
        kept = remaining[column_map.expressions.evaluate_filter(text, remaining)]
        assert mapped.excluded[text] == len(remaining) - len(kept)
        remaining = kept
    assert mapped.frame.index.tolist() == remaining.index.tolist()


# --- The worked example: hours and 0-10 ---------------------------------------------------------------

def test_committed_hours_export_is_the_simulated_sample_in_hours():
    committed = pd.read_csv(HOURS_EXPORT, keep_default_na=False, na_values=[""])
    expected = examples.hours_export(simulate.simulate(rows=3_000, seed=7).tickets)
    pd.testing.assert_frame_equal(committed, expected.astype(committed.dtypes.to_dict()), check_dtype=False)
    assert HOURS_EXPORT.stat().st_size < 400_000


def test_the_hours_map_brings_the_export_back_to_the_simulated_tickets():
    truth = dataset.from_frame(simulate.simulate(rows=3_000, seed=7).tickets).tickets
    data = dataset.load_tickets(HOURS_EXPORT, columns=HOURS_MAP)
    mapped = data.tickets
    assert mapped["ticket_id"].tolist() == truth["ticket_id"].tolist()
    for column in ("first_response_minutes", "resolution_minutes"):  # 4 decimals of an hour: within 0.18 s
        assert np.allclose(mapped[column], truth[column], atol=0.0001 * 60 / 2 + 1e-9, equal_nan=True)
    for column in ("csat", "resolved", "repeat_purchase", "customer_id", "created_at", "variant", "channel", "tenure_days"):
        pd.testing.assert_series_equal(mapped[column], truth[column], check_dtype=False, check_names=False)
    assert set(mapped["csat_raw"].dropna()) <= set(range(11))
    assert (mapped["replied_after_a_day"] == (truth["first_response_minutes"] > 24 * 60)).all()
    assert data.notes["csat"].startswith("answers on 0-10 binned onto 1-5")


def test_the_hours_example_validates(capsys):
    assert cli.main(["validate", "--data", str(HOURS_EXPORT), "--columns", str(HOURS_MAP)]) == 0
    assert "meets the data contract" in capsys.readouterr().out
