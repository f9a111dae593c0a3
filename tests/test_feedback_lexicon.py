"""Theme matching: word boundaries, CJK substrings, normalization, negation, and the column map's themes."""

import sys
import types

import pandas as pd
import pytest

from study.feedback.lexicon import (
    CHAR_WINDOW,
    NEGATIONS,
    STARTER_THEMES,
    WORD_WINDOW,
    Lexicon,
    delivery,
    from_column_map,
    normalize,
    starter,
)

LATE = Lexicon({"late": ("late", "atrasado", "took ages", "没收到", "慢")})


@pytest.mark.parametrize("comment, expected", [
    ("The parcel was late.", True),
    ("LATE again!", True),
    ("I ate chocolate", False),            # late inside chocolate: whole words only
    ("latest news", False),
    ("late-night order", True),            # a hyphen is a word boundary
    ("O pedido chegou atrasado", True),
    ("It took   ages", True),              # a phrase matches across any spacing
    ("it took many ages", False),
    ("ｌａｔｅ", True),                     # full-width letters read as their plain forms (NFKC)
    ("还没收到", False),                    # 没 before the term: but the term itself is 没收到, see below
    ("快递慢死了", True),                   # Chinese: anywhere in the text
    ("", False),
])
def test_word_boundaries_and_scripts(comment, expected):
    if comment == "还没收到":
        # The term starts with its own negation; only what stands before it can cancel it, and 还 does not.
        assert LATE.mentions(comment, "late")
        return
    assert LATE.mentions(comment, "late") is expected


@pytest.mark.parametrize("comment, expected", [
    ("The reply was not slow at all.", False),
    ("It wasn't very slow", False),        # n't counts as a negation, within the window
    ("It wasn’t slow", False),             # a curly apostrophe reads as a straight one
    ("Never slow", False),
    ("Not bad, but slow", True),           # the negation is in another clause
    ("I did not think it would be so slow", True),  # 'not' is 5 words before: outside the window
    ("não atrasou", False),
    ("Não gostei, atrasou", True),
    ("不慢", False),
    ("送的也不慢", False),
    ("没有超时", False),
    ("不到一个小时就送到了", False),          # 不到 within the characters before 小时
    ("特别慢", True),                       # 特别 (especially) holds 别 but negates nothing
    ("不仅送餐慢，还难吃", True),             # 不仅 (not only)
    ("不好吃 慢", True),                     # a space ends a Chinese clause
])
def test_negation(comment, expected):
    lexicon = Lexicon({"slow": ("slow", "atrasou", "慢", "超时", "小时")})
    assert lexicon.mentions(comment, "slow") is expected


def test_windows_are_what_the_docs_say():
    lexicon = Lexicon({"slow": ("slow", "慢")})
    assert not lexicon.mentions("not " + "x " * (WORD_WINDOW - 1) + "slow", "slow")
    assert lexicon.mentions("not " + "x " * WORD_WINDOW + "slow", "slow")
    assert not lexicon.mentions("不" + "好" * (CHAR_WINDOW - 1) + "慢", "slow")
    assert lexicon.mentions("不" + "好" * CHAR_WINDOW + "慢", "slow")


def test_match_gives_one_column_per_theme_and_handles_missing():
    comments = pd.Series(["The agent was rude.", None, "", "Great service, thank you!", "The agent was not rude."],
                         index=[10, 11, 12, 13, 14])
    found = starter().match(comments)
    assert list(found.columns) == list(STARTER_THEMES)
    assert list(found.index) == [10, 11, 12, 13, 14]
    assert found["rude_agent"].tolist() == [True, False, False, False, False]
    assert found["praise"].tolist() == [False, False, False, True, False]


def test_every_starter_term_matches_itself_and_its_theme_in_all_three_languages():
    lexicon = starter()
    for theme, terms in STARTER_THEMES.items():
        for term in terms:
            assert lexicon.mentions(f"well, {term}.", theme), (theme, term)
        languages = {"cjk" if any("\u4e00" <= c <= "\u9fff" for c in t) else "latin" for t in terms}
        assert languages == {"cjk", "latin"}
    portuguese = {"slow_reply": "O atendimento demorou muito", "unresolved": "Ninguém resolveu o problema",
                  "rude_agent": "O atendente foi grosso", "refund_delay": "Cadê o meu reembolso?",
                  "praise": "Ótimo atendimento, obrigado"}
    for theme, comment in portuguese.items():
        assert lexicon.match(pd.Series([comment])).iloc[0].to_dict() == {t: t == theme for t in STARTER_THEMES}


def test_normalize_is_nfkc_and_casefold():
    assert normalize("ＳＬＯＷ Ｌａｔｅ") == "slow late"
    assert normalize("Straße") == "strasse"


def test_empty_term_is_refused():
    with pytest.raises(ValueError, match="empty term"):
        Lexicon({"late": ("late", " ")})


def test_column_map_themes_are_used_when_given(monkeypatch):
    # A stand-in for the lead's reader (study.data.feedback_map.feedback_section), same interface.
    section = types.SimpleNamespace(themes={"late": ("atrasado", "late")}, negations=("not",))
    fake = types.ModuleType("study.data.feedback_map")
    fake.feedback_section = lambda path: section
    monkeypatch.setitem(sys.modules, "study.data.feedback_map", fake)
    lexicon = from_column_map("map.yaml")
    assert lexicon.origin == "the column map" and list(lexicon.themes) == ["late"]
    assert lexicon.negations == ("not",)
    assert lexicon.mentions("não atrasado", "late")  # only the map's negations: não is no longer one
    assert not lexicon.mentions("not late", "late")
    section.themes, section.negations = None, None
    fallback = from_column_map("map.yaml")
    assert fallback.themes == STARTER_THEMES and fallback.negations == NEGATIONS
    assert "gives no feedback themes" in fallback.origin
    assert from_column_map(None).origin == "the starter lexicon"


def test_delivery_lexicon_reads_chinese_reviews():
    lexicon = delivery()
    assert lexicon.mentions("等了两个多小时才送到", "slow_delivery")
    assert not lexicon.mentions("送餐很快，味道不错", "slow_delivery")
    assert lexicon.mentions("送餐很快，味道不错", "fast_delivery")


def test_themes_from_a_real_column_map(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("feedback:\n  themes:\n    late: [atrasado, 没收到, late]\n    refund: [reembolso, 退款]\n"
                    "  negations: [not, não]\n", encoding="utf-8")
    lexicon = from_column_map(str(path))
    assert lexicon.origin == "the column map" and list(lexicon.themes) == ["late", "refund"]
    found = lexicon.match(pd.Series(["Pedido atrasado", "não atrasado", "chocolate", "还没收到货", "退款呢"]))
    assert found["late"].tolist() == [True, False, False, True, False]
    assert found["refund"].tolist() == [False, False, False, False, True]
    without = tmp_path / "plain.yaml"
    without.write_text("tickets:\n  columns: {comment: review}\n", encoding="utf-8")
    assert from_column_map(str(without)).themes == STARTER_THEMES


@pytest.mark.parametrize("review, slow", [
    # bare durations of an hour or more, or forty minutes and more after a wait
    ("送了两个半小时", True), ("一个多小时", True), ("等了40多分钟", True), ("73分钟送到的", True),
    ("俩小时", True), ("半个小时送到，很快", False), ("不到一个小时就送到了", False), ("一小时内送达", False),
    ("比预约的时间早了四十多分钟", False), ("50分钟就送到了", False),
    # arrived only then, finally, not yet; an order time and then a clock time of arrival
    ("11点半点的餐，一点才送到", True), ("终于到了", True), ("还没有送到", True), ("刚才送餐的小哥很好", False),
    ("11点40下的单，14点送到", True), ("定的11点45送达", False),
    # a promise broken, a long time, late (not "so late at night"), sarcasm
    ("没有按时送到", True), ("未按照约定时间送达", True), ("送餐时间较长", True), ("比预计晚了20分钟", True),
    ("这么晚了还送，辛苦了", False), ("是骑马来的吗", True), ("不能更慢了", True), ("可以当夜宵吃了", True),
    ("速度很快，味道不错", False),
])
def test_slow_delivery_patterns(review, slow):
    assert delivery().mentions(review, "slow_delivery") is slow


def test_regular_expression_terms():
    lexicon = Lexicon({"late": (r"re:\bwaited \d+ (?:hours|days)\b", "re:等了?\\d+分钟")})
    assert lexicon.mentions("I WAITED 3 hours", "late")  # the text is case-folded, the pattern is not
    assert not lexicon.mentions("I never waited 3 hours", "late")  # negation holds for patterns too
    assert not lexicon.mentions("unwaited 3 hoursx", "late")  # no boundary is added, the pattern's own hold
    assert lexicon.mentions("等了90分钟", "late") and not lexicon.mentions("没等90分钟", "late")
    # \S must stay \S: the pattern is NFKC-normalized, not case-folded
    assert Lexicon({"t": (r"re:a\Sb",)}).mentions("a-b", "t") and not Lexicon({"t": (r"re:a\Sb",)}).mentions("a b", "t")
    with pytest.raises(ValueError, match=r"theme 'late': the term 're:\(unclosed' is not a regular expression"):
        Lexicon({"late": ("late", "re:(unclosed")})


def test_a_broken_pattern_in_a_column_map_is_a_one_line_data_error(tmp_path):
    from study.data.schema import DataError

    path = tmp_path / "map.yaml"
    path.write_text('feedback:\n  themes:\n    late: [atrasado, "re:espera de (\\\\d+ dias"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"map\.yaml: feedback\.themes\.late holds 're:espera de \(.*not a regular expression") as caught:
        from_column_map(str(path))
    assert "\n" not in str(caught.value)
    path.write_text('feedback:\n  themes:\n    late: [atrasado, "re:esperei \\\\d+ dias"]\n', encoding="utf-8")
    assert from_column_map(str(path)).mentions("Esperei 12 dias pela resposta", "late")
