import json
import math

import pytest

from study.core import words
from study.core.results import Estimate, write_results
from study.data.io import Source

SOURCE = Source("t.parquet", "abcdef0123456789", 10, ["a"])


def _estimate(**overrides):
    values = dict(name="x", label="X", value=-0.15, se=0.01, ci_low=-0.17, ci_high=-0.13, p_value=0.0004, n=10, method="m")
    values.update(overrides)
    return Estimate(**values)


def test_results_file_holds_every_field_and_nothing_volatile(tmp_path):
    payload = write_results(tmp_path, "02_x", [_estimate()], SOURCE, {"alpha": 0.05, "results_dir": str(tmp_path)},
                            {"in": 10, "used": 8, "dropped": {"no survey answer": 2}})
    written = json.loads((tmp_path / "02_x.json").read_text())
    assert written == payload
    assert set(written["estimates"][0]) == {"name", "label", "value", "se", "ci_low", "ci_high", "p_value", "n", "method", "ci_level"}
    assert "results_dir" not in written["parameters"]
    assert str(tmp_path) not in (tmp_path / "02_x.json").read_text()


def test_results_file_is_byte_identical_on_rewrite(tmp_path):
    args = (tmp_path, "a", [_estimate()], SOURCE, {"alpha": 0.05}, {"in": 1, "used": 1, "dropped": {}})
    write_results(*args)
    first = (tmp_path / "a.json").read_bytes()
    write_results(*args)
    assert (tmp_path / "a.json").read_bytes() == first
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_non_finite_numbers_become_null(tmp_path):
    write_results(tmp_path, "a", [_estimate(value=math.nan, se=None)], SOURCE, {}, {})
    assert json.loads((tmp_path / "a.json").read_text())["estimates"][0]["value"] is None


def test_nothing_is_written_without_a_folder():
    assert write_results(None, "a", [_estimate()], SOURCE, {}, {})["analysis"] == "a"


@pytest.mark.parametrize("p, text", [(0.0004, "p < 0.001"), (0.0123, "p = 0.012"), (0.5, "p = 0.500"), (None, "p n/a")])
def test_p_values_read_as_people_expect(p, text):
    assert words.p_value(p) == text


def test_intervals_in_points_percent_and_values():
    e = _estimate(value=0.018, ci_low=0.008, ci_high=0.028)
    assert words.with_interval(e, "pp") == "+1.8 pp (95% CI +0.8 to +2.8 pp)"
    assert words.with_interval(e, "pct") == "+1.8% (95% CI +0.8% to +2.8%)"
    assert words.with_interval(_estimate()) == "-0.15 (95% CI -0.17 to -0.13)"


def test_covers_words_follow_the_interval():
    assert words.covers_words(_estimate(), -0.15) == "covers"
    assert words.covers_words(_estimate(), -0.20) == "does **not** cover"


@pytest.mark.parametrize("resolved, day, words_expected", [
    ((0.76, 0.83), (-0.75, -0.63), "the resolution difference is the larger"),
    ((0.20, 0.30), (-0.75, -0.63), "the speed difference is the larger"),
    ((0.60, 0.80), (-0.75, -0.63), "the intervals overlap"),
    ((-0.05, 0.10), (-0.02, 0.03), "the intervals overlap"),
])
def test_one_rule_says_whether_the_resolution_or_the_speed_difference_is_larger(resolved, day, words_expected):
    """Notebook Findings and the index both call this rule; a point-estimate rule would claim a winner in the overlap cases."""
    assert words_expected in words.resolution_versus_speed(resolved, day)


def test_a_skipped_cox_model_is_said_beside_the_e_values(small_data):
    """Without days_to_next_purchase the Cox model is skipped: the findings say so once, and the E-values say theirs."""
    from study.data.dataset import TicketData
    from study.regression import repeat

    data = TicketData(small_data.tickets.drop(columns="days_to_next_purchase"), small_data.source)
    found = repeat.study(data, replicates=20).findings()
    cox = [f for f in found if f.kind == "skipped" and f.text.startswith("**Time to the next purchase: skipped.**")]
    assert len(cox) == 1 and "time to the next purchase is unknown" in cox[0].text
    assert any(f.text.startswith("**How strong a hidden confounder would have to be (repeat purchase).**") for f in found)
