"""The name-level checks of a requested feature list: one line each, callable without a model library."""

import subprocess
import sys

import pytest

from study.data import model_features
from study.data.model_features import BUILT_IN, FOLLOW_UP, as_list, check_requested
from study.data.schema import DataError

PRESENT = ["ticket_id", "customer_id", "agent_id", "created_at", "first_response_minutes", "resolved", "csat",
           "repeat_purchase", "next_spend", "days_to_next_purchase", "comment", "order_value", "category"]


@pytest.mark.parametrize("features, message", [
    ([], "features: the list is empty"),
    (["order_value", "next_spend"], "feature 'next_spend' is refused: it is measured in the follow-up window"),
    (["days_to_next_purchase"], "feature 'days_to_next_purchase' is refused: it is measured in the follow-up window"),
    (["repeat_purchase"], "feature 'repeat_purchase' is refused: it is measured in the follow-up window"),
    (["ticket_id"], "feature 'ticket_id' is refused: it is an identifier (each value names one ticket)"),
    (["customer_id"], "feature 'customer_id' is refused: it is an identifier (each value names one customer)"),
    (["created_at"], "feature 'created_at' is a time"),
    (["adopted_at"], "feature 'adopted_at' is a time"),
    (["comment"], "feature 'comment' is refused: it is free text"),
    (["quality_score"], "feature 'quality_score' needs column 'quality_score', which the data does not have"),
    (["order_valeu"], "feature 'order_valeu' is neither a column of the data nor a built-in feature (did you mean 'order_value'?)"),
    (["csat_answerd"], "(did you mean 'csat_answered'?)"),
    (["zzzz"], "(response_log2_hours, resolved,"),
    ([3], "features: 3 is not a column or feature name"),
])
def test_each_refused_name_is_one_line_naming_it_and_why(features, message):
    with pytest.raises(DataError) as refused:
        check_requested(features, PRESENT)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_typo_of_a_refused_column_is_not_suggested():
    with pytest.raises(DataError) as refused:
        check_requested(["next_spnd"], PRESENT)
    assert "next_spend" not in str(refused.value)


def test_accepted_lists_pass():
    check_requested(None, PRESENT)
    check_requested(["csat", "order_value", "category", "response_log2_hours", "earlier_tickets"], PRESENT)
    check_requested("csat", PRESENT)  # one string is one feature
    assert as_list("csat") == ["csat"] and as_list(("a", "b", "a")) == ["a", "b"] and as_list(None) is None


def test_the_model_reads_these_rules_and_names():
    from study.predict import features

    assert features.BUILT_IN is BUILT_IN and features.FOLLOW_UP is FOLLOW_UP
    assert features.check_requested is model_features.check_requested


def test_the_check_loads_no_model_library():
    code = ("import sys, study.data.model_features as m; m.check_requested(['csat'], ['csat']); "
            "print(sorted(n for n in sys.modules if n.split('.')[0] == 'sklearn' or n.startswith('study.predict')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("features, says", [
    ("next_spend", "next_spend"),
    ("nosuchcol", "nosuchcol"),
    ("ticket_id", "ticket_id"),
])
def test_study_run_refuses_a_bad_feature_list_before_any_notebook_starts(tmp_path, capsys, features, says):
    from study import cli, config

    status = cli.main(["run", "--only", "09", "--data", str(config.SAMPLE_DATA), "--param", f"features={features}",
                       "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "parameter features:" in err and says in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
