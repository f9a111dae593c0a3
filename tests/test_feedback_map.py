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
