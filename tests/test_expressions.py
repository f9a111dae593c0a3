"""The column map's expression language: parsed by hand, computed with pandas, checked against
pandas written out by hand and against a row-by-row reference with SQL's three-valued logic."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study.data import expression_tree
from study.data.expressions import ExpressionError, evaluate, evaluate_filter, parse
from study.data.schema import DataError

FRAME = pd.DataFrame({
    "a": [1.0, 2.0, np.nan, -4.0, 0.0],
    "b": [3.0, 0.0, 5.0, 2.0, np.nan],
    "status": ["Solved", " Open ", None, "Solved", "Pending"],
    "opened": ["2026-01-01 10:00", "2026-01-02 08:30", "2026-01-03", None, "2026-01-05 00:00"],
    "closed": ["2026-01-02 10:00", "2026-01-02 08:00", None, "2026-01-04", "2026-01-06 12:00"],
    "flag": [True, False, True, False, True],
    "order status": ["delivered", "shipped", "delivered", "canceled", "delivered"],
})
OPENED, CLOSED = (pd.to_datetime(FRAME[c], format="ISO8601") for c in ("opened", "closed"))


def same(got: pd.Series, expected) -> None:
    expected = pd.Series(expected, index=got.index)
    assert got.isna().tolist() == expected.isna().tolist()
    present = got.notna().to_numpy()
    assert got[present].tolist() == pytest.approx(expected[present].tolist()) if got.dtype.kind == "f" \
        else got[present].tolist() == expected[present].tolist()


@pytest.mark.parametrize("text, expected", [
    ("a + b * 2", FRAME.a + FRAME.b * 2),
    ("(a + b) * 2", (FRAME.a + FRAME.b) * 2),
    ("-a * 2 - b", -FRAME.a * 2 - FRAME.b),
    ("a - b - 1", (FRAME.a - FRAME.b) - 1),  # left-associative
    ("a / b", (FRAME.a / FRAME.b).where(FRAME.b != 0)),  # division by zero is null
    ("abs(a)", FRAME.a.abs()),
    ("log(b)", np.log(FRAME.b.where(FRAME.b > 0))),
    ("log2(a)", np.log2(FRAME.a.where(FRAME.a > 0))),
    ("coalesce(a, b, 0)", FRAME.a.fillna(FRAME.b).fillna(0)),
    ("days(closed - opened)", (CLOSED - OPENED).dt.total_seconds() / 86400),
    ("hours(closed - opened)", (CLOSED - OPENED).dt.total_seconds() / 3600),
    ("MINUTES(closed - opened) + 1", (CLOSED - OPENED).dt.total_seconds() / 60 + 1),
    ("seconds((closed - opened) - (closed - opened))", (CLOSED - OPENED).dt.total_seconds() * 0),
    ("case when a > 1 then 'big' when a > 0 then 'small' else 'none' end",
     np.select([FRAME.a > 1, FRAME.a > 0], ["big", "small"], "none")),
    ("case when flag then a end", FRAME.a.where(FRAME.flag)),
    ("7", [7.0] * 5),
])
def test_values_match_pandas_written_by_hand(text, expected):
    same(evaluate(text, FRAME), expected)


def three_valued(values, missing):
    return pd.Series(values, dtype="boolean").mask(pd.Series(missing))


@pytest.mark.parametrize("text, expected", [
    ("a > b", three_valued(FRAME.a > FRAME.b, FRAME.a.isna() | FRAME.b.isna())),
    ("a <> 2", three_valued(FRAME.a != 2, FRAME.a.isna())),
    ("status = 'Open'", three_valued(FRAME.status.str.strip() == "Open", FRAME.status.isna())),  # spaces trimmed
    ("status in ('Open', 'Pending')", three_valued(FRAME.status.str.strip().isin(["Open", "Pending"]), FRAME.status.isna())),
    ("status not in ('Open', 'Pending')", three_valued(~FRAME.status.str.strip().isin(["Open", "Pending"]), FRAME.status.isna())),
    ("a is null", FRAME.a.isna()),
    ("closed is not null", FRAME.closed.notna()),
    # Kleene logic: false and null is false, true or null is true.
    ("a > 0 and b > 0", pd.Series([True, False, pd.NA, False, False], dtype="boolean")),
    ("a > 0 or b > 0", pd.Series([True, True, True, True, pd.NA], dtype="boolean")),
    ("not a > 0", pd.Series([False, False, pd.NA, True, True], dtype="boolean")),
    ("closed > opened", three_valued(CLOSED > OPENED, CLOSED.isna() | OPENED.isna())),
    ("opened >= '2026-01-02'", three_valued(OPENED >= pd.Timestamp("2026-01-02"), OPENED.isna())),
    ("flag = true", FRAME.flag),
    ("`order status` = 'delivered' AND flag", FRAME["order status"].eq("delivered") & FRAME.flag),
])
def test_conditions_follow_sql_three_valued_logic(text, expected):
    got = evaluate(text, FRAME)
    assert got.dtype == "boolean"
    assert got.isna().tolist() == pd.Series(expected).isna().tolist()
    assert got.fillna(False).tolist() == pd.Series(expected).astype("boolean").fillna(False).tolist()


def test_a_filter_keeps_true_rows_only():
    assert evaluate_filter("a > 0", FRAME).tolist() == [True, True, False, False, False]


def test_literals_quotes_and_names():
    assert evaluate("'it''s'", FRAME).tolist() == ["it's"] * 5
    assert evaluate("status", FRAME).equals(FRAME["status"])  # a bare column is returned as it is
    assert parse("days(b - a) > 1 and `x y` is null").columns == ("b", "a", "x y")
    assert evaluate("1.5e1", FRAME).tolist() == [15.0] * 5
    assert evaluate("null", FRAME).isna().all()


def test_unix_times_are_read_with_time():
    frame = pd.DataFrame({"start": [1_767_225_600, 1_767_229_200], "stop": [1_767_229_200, 1_767_240_000]})
    assert evaluate("hours(time(stop) - time(start))", frame).tolist() == [1.0, 3.0]
    with pytest.raises(ExpressionError, match=r"hours\(\) takes a difference of two times.*time\(x\)"):
        evaluate("hours(stop - start)", frame)


def test_text_columns_take_the_type_their_use_asks_for():
    frame = pd.DataFrame({"n": ["1", "10", "2"], "m": ["3", "4", "5"], "at": ["2026-01-01", "2026-01-03", "2026-01-02"]})
    assert evaluate("n > m", frame).tolist() == [False, True, False]  # numbers, not '10' < '3'
    assert evaluate("n + 1", frame).tolist() == [2.0, 11.0, 3.0]
    assert evaluate("at > '2026-01-01 12:00'", frame).tolist() == [False, True, True]
    assert evaluate("n + 1 > 2", frame).tolist() == [False, True, True]


def test_day_first_times_in_an_expression_are_read_day_first_and_noted():
    frame = pd.DataFrame({"start": ["13/01/2026", "02/01/2026"], "stop": ["14/01/2026", "03/02/2026"]})
    notes = {}
    assert evaluate("days(stop - start)", frame, notes).tolist() == [1.0, 32.0]
    assert notes["start"].startswith("dates read day first")


@pytest.mark.parametrize("text, message", [
    ("a > (b", r"""expected '\)' to close '\(', found the end at character 7: "a > \(b\[here\]\""""),
    ("a = \"x\"", r"text is written in single quotes .* at character 5"),
    ("dayz(closed - opened)", r"no function dayz\(\) \(did you mean days\(\)\?\) at character 1"),
    ("a < b < 3", r"comparisons do not chain .* at character 7"),
    ("case a end", r"expected 'when' after 'case'"),
    ("'open", r"text opened here is not closed with ' at character 1"),
    ("days(a, b)", r"days\(\) takes one argument, not 2"),
    ("coalesce(a)", r"coalesce\(\) takes two or more arguments"),
    ("a is nul", r"expected 'null' after 'is', found 'nul' at character 6"),
    ("", r"an empty expression"),
    ("a +", r"expected a value, a column or '\(', found the end at character 4"),
    ("end = 1", r"'end' is a keyword; a column of that name is written `end`"),
    ("a ; b", r"unexpected ';' at character 3"),
    ("(" * 500 + "a" + ")" * 500, r"nested too deeply"),
    ("-" * 5000 + "a", r"nested too deeply"),
    ("a" * 10_001, r"too long"),
])
def test_a_parse_error_is_one_line_pointing_at_the_position(text, message):
    with pytest.raises(ExpressionError, match=message) as error:
        parse(text)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300
    assert isinstance(error.value, DataError)


@pytest.mark.parametrize("text, message", [
    ("staus = 'Open'", r"no column 'staus' \(did you mean 'status'\?\)"),
    ("web", r"no column 'web' \(text is written in single quotes: 'web'\)"),
    ("a + status", r"column 'status' has 4 values that are not a number \(e.g. 'Solved', 'Open', 'Pending'\) in rows 1, 2, 4, 5"),
    ("a + opened", r"\+ of a time: times can only be subtracted"),
    ("closed - opened", r"a time difference needs a unit"),
    ("days(closed - opened) > closed - opened", r"a time difference needs a unit before it is compared"),
    ("closed - opened + 1", r"a time difference needs a unit before it is combined"),
    ("closed + 1", r"times can only be subtracted from each other"),
    ("a = null", r"write 'x is null'"),
    ("status in ('a', null)", r"null in a list never matches"),
    ("case when flag then 1 else opened - closed end", r"mixes"),
    ("a = 'x'", r"'x': is not a number"),
    ("flag > false", r"not ordered"),
    ("days(opened)", r"takes a difference of two times"),
])
def test_an_evaluation_error_names_what_is_wrong(text, message):
    with pytest.raises(ExpressionError, match=message):
        evaluate(text, FRAME)


def test_a_filter_must_be_yes_or_no():
    with pytest.raises(ExpressionError, match="a filter must be a yes/no expression"):
        evaluate_filter("a + 1", FRAME)
    with pytest.raises(ExpressionError, match="a filter must be a yes/no expression"):
        evaluate_filter("status", FRAME)


def test_unreadable_times_are_named_with_their_rows():
    frame = pd.DataFrame({"start": ["2026-01-01", "yesterday", "2026-01-02"], "stop": ["2026-01-02"] * 3})
    with pytest.raises(ExpressionError, match=r"column 'start' has 1 value that is not a date/time \(e.g. 'yesterday'\) in row 2"):
        evaluate("days(stop - start)", frame)


# --- Random expressions against a row-by-row reference ------------------------------------------------

NUMBERS = st.one_of(st.none(), st.integers(-3, 3).map(float))


def _num(draw, depth):
    choice = draw(st.integers(0, 4 if depth < 3 else 1))
    if choice == 0:
        return draw(st.sampled_from(["x", "y"]))
    if choice == 1:
        return str(draw(st.integers(0, 3)))
    if choice == 2:
        return f"-{_num(draw, depth + 1)}"
    if choice == 3:
        return f"coalesce({_num(draw, depth + 1)}, {_num(draw, depth + 1)})"
    return f"({_num(draw, depth + 1)} {draw(st.sampled_from(['+', '-', '*', '/']))} {_num(draw, depth + 1)})"


def _cond(draw, depth):
    choice = draw(st.integers(0, 5 if depth < 3 else 2))
    if choice == 0:
        return f"{_num(draw, depth + 1)} {draw(st.sampled_from(['=', '!=', '<', '<=', '>', '>=']))} {_num(draw, depth + 1)}"
    if choice == 1:
        return f"{_num(draw, depth + 1)} is {draw(st.sampled_from(['', 'not ']))}null"
    if choice == 2:
        return f"{_num(draw, depth + 1)} {draw(st.sampled_from(['', 'not ']))}in ({_num(draw, depth + 1)}, {draw(st.integers(0, 2))})"
    if choice == 3:
        return f"not ({_cond(draw, depth + 1)})"
    return f"({_cond(draw, depth + 1)} {draw(st.sampled_from(['and', 'or']))} {_cond(draw, depth + 1)})"


@st.composite
def conditions(draw):
    return _cond(draw, 0)


def reference(text: str, row: dict):
    """The expression on one row, in plain Python: None is null, SQL's rules spelled out."""
    node = parse(text).root
    return _ref(node, row)


def _ref(node, row):
    E = expression_tree
    if isinstance(node, E.Literal):
        return node.value
    if isinstance(node, E.Column):
        return row[node.name]
    if isinstance(node, E.Unary):
        value = _ref(node.operand, row)
        if node.op == "not":
            return None if value is None else not value
        return None if value is None else -value
    if isinstance(node, E.IsNull):
        return (_ref(node.operand, row) is not None) if node.negated else (_ref(node.operand, row) is None)
    if isinstance(node, E.InList):
        value = _ref(node.operand, row)
        found = _or([_compare("=", value, _ref(o, row)) for o in node.options])
        return None if found is None else (not found if node.negated else found)
    if isinstance(node, E.Call):  # coalesce
        return next((v for v in (_ref(a, row) for a in node.args) if v is not None), None)
    left, right = _ref(node.left, row), _ref(node.right, row)
    if node.op == "and":
        return False if False in (left, right) else None if None in (left, right) else True
    if node.op == "or":
        return _or([left, right])
    if node.op in ("+", "-", "*", "/"):
        if left is None or right is None or (node.op == "/" and right == 0):
            return None
        return {"+": left + right, "-": left - right, "*": left * right, "/": left / right if right else None}[node.op]
    return _compare(node.op, left, right)


def _or(values):
    return True if True in values else None if None in values else False


def _compare(op, left, right):
    if left is None or right is None:
        return None
    return {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[op]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=8), conditions())
def test_random_conditions_agree_with_a_row_by_row_reference(rows, text):
    frame = pd.DataFrame(rows, columns=["x", "y"], dtype=float)
    got = evaluate(text, frame)
    for position, (x, y) in enumerate(rows):
        expected = reference(text, {"x": x, "y": y})
        value = got.iloc[position]
        assert (None if pd.isna(value) else bool(value)) == expected, (text, x, y)


@st.composite
def numeric(draw):
    return _num(draw, 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=8), numeric())
def test_random_arithmetic_agrees_with_a_row_by_row_reference(rows, text):
    frame = pd.DataFrame(rows, columns=["x", "y"], dtype=float)
    got = evaluate(text, frame)
    for position, (x, y) in enumerate(rows):
        expected = reference(text, {"x": x, "y": y})
        value = got.iloc[position]
        if expected is None:
            assert pd.isna(value), (text, x, y, value)
        else:
            assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-12), (text, x, y, value, expected)


def test_a_long_flat_chain_is_refused_in_one_line_not_a_recursion_error():
    frame = pd.DataFrame({"a": [1.0]})
    assert evaluate("+".join(["a"] * 150), frame).iloc[0] == 150.0
    with pytest.raises(ExpressionError, match=r"nested 500 levels deep is too deep \(at most 200\); split it"):
        evaluate("+".join(["a"] * 500), frame)
