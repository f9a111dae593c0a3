"""Tables carry the kind of each column from where they are built to the HTML a reader opens."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study.ab import abtest, aggregate, effect_tables
from study.ab.sufficient import Metric
from study.core.results import Estimate
from study.core.tables import NUMBER, column_kinds, numbers_as_text
from study.data import schema
from study.regression import causal, fitting, key_drivers
from study.report import display
from study.report.html_table import HtmlTable, table_html


def _estimate(name: str, value: float, p: float | None = 0.0001) -> Estimate:
    return Estimate(name, name.replace("_", " "), value, 0.01, value - 0.02, value + 0.02, p, 500, "ols")


def test_kinds_follow_the_dtypes_of_the_table_as_built():
    table = pd.DataFrame({
        "count": [1, 2], "share": [0.5, np.nan], "nullable": pd.array([1, None], dtype="Int64"),
        "objects": pd.Series([1.5, None], dtype=object), "flag": [True, False], "arm": ["control", "treatment"],
        "meaning": ["short", "a sentence that is well over thirty characters long"],
    })
    assert column_kinds(table) == ["num", "num", "num", "num", "text", "text", "prose"]


def test_numbers_written_as_text_are_numbers_when_marked_and_the_mark_survives():
    table = pd.DataFrame({"term": ["a", "b"], "95% CI": ["0.1 to 0.2", "-0.3 to 0.1"], "p-value": ["<0.001", "0.2"]})
    assert column_kinds(table) == ["text", "text", "text"]  # nothing guesses from the words
    marked = numbers_as_text(table, "95% CI")
    assert marked is table and numbers_as_text(table, "p-value", "95% CI").attrs["numbers as text"] == ["95% CI", "p-value"]
    indexed = table.set_index("term").copy()
    indexed["note"] = ["x", "y"]
    assert column_kinds(indexed) == ["num", "num", "text"]


def test_html_classes_headers_and_cells_and_escapes_every_value():
    frame = pd.DataFrame({"value": ["1.000", "<b>2</b>"], "note": ["x & y", None]}, index=pd.Index(["a", "b"], name="row"))
    page = table_html(frame, ["num", "text"])
    assert '<th class="num">value</th><th class="text">note</th>' in page
    assert '<th class="text">row</th>' in page  # the index name heads text
    assert '<td class="num">&lt;b&gt;2&lt;/b&gt;</td>' in page and "<b>" not in page
    assert '<td class="text">x &amp; y</td>' in page and '<td class="text">–</td>' in page
    assert 'id="' not in page  # the same output on every run
    with pytest.raises(ValueError, match="1 column kinds for 2 columns"):
        table_html(frame, ["num"])


def test_outer_row_labels_span_their_group_as_in_pandas():
    index = pd.MultiIndex.from_tuples([("gold", "m1"), ("gold", "m2"), ("silver", "m1")], names=["segment", "metric"])
    page = table_html(pd.DataFrame({"estimate": ["1", "2", "3"]}, index=index), ["num"])
    assert page.count('<th rowspan="2">gold</th>') == 1 and page.count("<th>m1</th>") == 2
    assert "<th>silver</th>" in page and page.count("<tr>") == 2 + 3


def test_the_text_output_is_the_frame_s_own():
    frame = pd.DataFrame({"value": ["1.000"], "note": ["x"]})
    shown = HtmlTable(frame, ["num", "text"])
    assert repr(shown) == repr(frame)
    assert shown._repr_html_() == table_html(frame, ["num", "text"])


def test_show_classes_columns_from_the_table_before_formatting(monkeypatch):
    shown = []
    monkeypatch.setattr(display, "display", shown.append)
    display.show(pd.DataFrame({"rate": [0.25], "arm": ["control"]}), percent=["rate"])
    display.show([_estimate("speed", -0.15), _estimate("resolved", 0.4, None)], truth={"speed": -0.1})
    assert [type(s) for s in shown] == [HtmlTable, HtmlTable]
    assert shown[0].kinds == ["num", "text"] and shown[0].frame["rate"].tolist() == ["25.0%"]
    assert list(shown[1].frame.columns) == ["value", "95% CI", "p-value", "rows", "true value", "covers the truth"]
    assert shown[1].kinds == ["num"] * 5 + ["text"]
    assert shown[1].frame["covers the truth"].tolist() == ["NO: misses", ""]  # -0.17 to -0.13 misses -0.1; no truth
    assert '<td class="num">-0.170 to -0.130</td>' in shown[1]._repr_html_()


def test_builders_mark_the_numbers_they_write_as_text():
    estimates = [_estimate("naive", -0.2), _estimate("adjusted", -0.15)]
    speed = causal.speed_effect_table(estimates[0], estimates[1], None, truth=-0.15)
    assert dict(zip(speed.columns, column_kinds(speed))) == {
        "CSAT per doubling of the wait (95% CI)": "num", "rows": "num", "what it answers": "prose",
        "covers the truth": "text"}
    assert speed["CSAT per doubling of the wait (95% CI)"].str.startswith(("-0.20 (", "-0.15 (")).all()  # as the findings

    drivers = pd.DataFrame({"label": ["resolution"], "importance": [0.1], "importance_ci_low": [0.05],
                            "importance_ci_high": [0.15], "share_of_explained": [0.5], "performance": [70.0],
                            "performance_measure": ["% resolved"], "quadrant": ["keep up the good work"]})
    assert column_kinds(key_drivers.summary_table(drivers)) == ["num", "num", "num", "num", "text", "text"]

    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    fit = smf.ols("y ~ x", pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=200)})).fit()
    assert column_kinds(fitting.coefficient_table(fit)) == ["num"] * 5

    units = pd.DataFrame({"customer_id": [str(i) for i in range(400)], "variant": ["control", "treatment"] * 200,
                          "spend": rng.lognormal(3, 0.5, 400), "bought": rng.random(400) < 0.3})
    metrics = [Metric("spend", "spend"), Metric("bought", "bought", "proportion")]
    effects = effect_tables.effects_summary(abtest.adjust_p_values(abtest.compare_metrics(aggregate.aggregate_frame(units, metrics))),
                                            shares={"bought"})
    kinds = dict(zip(effects.columns, column_kinds(effects)))
    assert kinds["method"] == "text" and kinds["difference (95% CI)"] == kinds["relative lift (95% CI)"] == "num"
    assert kinds["control"] == kinds["treatment"] == "num"
    assert {k for k, v in kinds.items() if v != "num"} == {"method"}

    report = schema.validation_report(pd.DataFrame({"ticket_id": ["t1", "t2"]}))[0]
    kinds = dict(zip(report.columns, column_kinds(report)))
    assert kinds["missing"] == "num" and NUMBER not in (kinds["status"], kinds["problem"])


def test_a_change_in_a_probability_reads_in_points_beside_rows_in_their_own_unit():
    from study.regression import fitting

    change = Estimate("repeat", "Change in repeat-purchase probability per doubling", -0.0189, 0.002, -0.023, -0.015,
                      0.0001, 500, "logit")
    points = Estimate("csat", "CSAT points per doubling", -0.1506, 0.01, -0.164, -0.137, 0.0001, 500, "ols")
    table = fitting.comparison_table([change, points], {"repeat": -0.019}, pp=1)
    assert table["value"].tolist() == ["-1.9 pp", "-0.151"]
    assert table["95% CI"].tolist() == ["-2.3 to -1.5", "-0.164 to -0.137"]
    assert table["true value"].tolist() == ["-1.9 pp", "–"]
    assert fitting.comparison_table([change], pp=None)["value"].tolist() == [-0.0189]  # unchanged without pp
