"""The column map's feedback section: themes and negations read, and every malformed section refused in one line."""

import pytest

from study.data.feedback_map import FeedbackSection, feedback_section
from study.data.schema import DataError


def write(tmp_path, text):
    path = tmp_path / "map.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_themes_and_negations_are_read_in_order_normalized_and_deduplicated(tmp_path):
    path = write(tmp_path, "tickets:\n  columns: {comment: review}\nfeedback:\n  themes:\n"
                           "    late: [atrasado, 没收到, late, ' late ', \"still waiting\"]\n"
                           "    refund: [refund, ｒｅｆｕｎｄ]\n  negations: [not, 不]\n")
    section = feedback_section(path)
    assert section.themes == {"late": ("atrasado", "没收到", "late", "still waiting"), "refund": ("refund",)}
    assert section.negations == ("not", "不")


def test_no_map_or_no_section_declares_nothing(tmp_path):
    assert feedback_section(None) == FeedbackSection()
    assert feedback_section(write(tmp_path, "tickets:\n  columns: {comment: review}\n")) == FeedbackSection()


@pytest.mark.parametrize("body, says", [
    ("feedback:\n  theme: {late: [late]}\n", "themes"),
    ("feedback:\n  themes: [late, slow]\n", "must map each theme name"),
    ("feedback:\n  themes: {}\n", "must map each theme name"),
    ("feedback:\n  themes: {late: late}\n", "must be a list"),
    ("feedback:\n  themes: {late: []}\n", "empty list"),
    ("feedback:\n  themes: {late: ['  ']}\n", "empty term"),
    ("feedback:\n  themes: {late: [no]}\n", "yes/no"),
    ("feedback:\n  themes: {late: [[a, b]]}\n", "not a word or phrase"),
    ("feedback:\n  themes: {'2late': [late]}\n", "short name"),
    ("feedback:\n  themes: {'late reply': [late]}\n", "short name"),
    ("feedback:\n  themes: {late: [late]}\n  negations: not\n", "negations must be a list"),
    ("feedback: [late]\n", "must be a mapping"),
    ("feedback:\n  themes: {late: ['re:(unclosed']}\n", "not a regular expression"),
])
def test_a_malformed_section_is_refused_in_one_line_naming_the_map(tmp_path, body, says):
    with pytest.raises(DataError, match=says) as caught:
        feedback_section(write(tmp_path, body))
    assert "map.yml" in str(caught.value) and "\n" not in str(caught.value)


def test_a_pasted_corpus_is_refused_rather_than_matched(tmp_path):
    long_term = "x" * 200
    with pytest.raises(DataError, match="at most 80"):
        feedback_section(write(tmp_path, f"feedback:\n  themes: {{late: [{long_term}]}}\n"))
    many = ", ".join(f"t{i}" for i in range(600))
    with pytest.raises(DataError, match="at most 500"):
        feedback_section(write(tmp_path, f"feedback:\n  themes: {{late: [{many}]}}\n"))


def test_study_run_refuses_a_malformed_lexicon_before_any_notebook_starts(tmp_path, capsys):
    from study import cli, config

    columns = write(tmp_path, "feedback:\n  themes: {late: late}\n")
    status = cli.main(["run", "--only", "01", "--out", str(tmp_path / "out"), "--data", str(config.SAMPLE_DATA),
                       "--columns", str(columns)])
    err = capsys.readouterr().err
    assert status == 2 and "map.yml: feedback.themes.late must be a list" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_study_validate_refuses_a_malformed_lexicon_as_study_run_does(tmp_path, capsys):
    from study import cli, config

    columns = write(tmp_path, "feedback:\n  themse: {late: [late]}\n")
    status = cli.main(["validate", "--data", str(config.SAMPLE_DATA), "--columns", str(columns)])
    err = capsys.readouterr().err
    assert status == 2 and "unknown key 'themse' in the feedback section" in err and "did you mean 'themes'" in err


def test_study_run_reads_the_themes_of_the_column_map_through_a_renamed_comment_column(tmp_path, capsys):
    import json

    import pandas as pd

    from study import cli, config

    tickets = pd.read_parquet(config.SAMPLE_DATA).head(4_000).rename(columns={"comment": "review"})
    tickets.to_parquet(tmp_path / "t.parquet")
    columns = write(tmp_path, "tickets:\n  columns: {comment: review}\n"
                              "feedback:\n  themes:\n    waiting: [waited, slow]\n    money: [refund]\n")
    status = cli.main(["run", "--only", "10", "--data", str(tmp_path / "t.parquet"), "--columns", str(columns),
                       "--out", str(tmp_path / "out")])
    assert status == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results" / "10_feedback.json").read_text())
    text = json.dumps(results)
    assert "the column map" in text and "waiting" in text and "money" in text and "praise" not in text
