"""Right-to-left text from the data among the report's left-to-right words (study.core.bidi); how Chromium lays
it out is checked in test_browser.py."""

import pandas as pd

from study.core.bidi import FIRST_STRONG_ISOLATE as FSI
from study.core.bidi import LEFT_TO_RIGHT_ISOLATE as LRI
from study.core.bidi import POP_DIRECTIONAL_ISOLATE as PDI
from study.core.bidi import (
    has_right_to_left,
    is_right_to_left_name,
    joined,
    needs_isolating,
)
from study.core.words import text as markdown_text
from study.report.html_table import table_html


def test_right_to_left_letters_are_found_in_each_script_and_nowhere_else():
    for text in ("عربي", "עברית", "ܣܘܪܝܝܐ", "ދިވެހި", "ߒߞߏ", "ﻻ", "mixed عربي 5"):
        assert has_right_to_left(text), text
    for text in ("plain English!", "Ünïcödé façade", "中文评论", "日本語", "한국어", "русский", "5% (2 to 3)", ""):
        assert not has_right_to_left(text), text


def test_a_list_is_left_as_it_was_without_right_to_left_text_and_each_piece_isolated_with_it():
    assert joined(["slow", "late", 3], ", ") == "slow, late, 3"
    assert joined(["بطيء!", "late"], " | ") == f"{FSI}بطيء!{PDI} | {FSI}late{PDI}"
    assert joined([], ", ") == ""


def test_a_cell_is_isolated_as_one_piece_unless_its_pieces_are():
    assert needs_isolating("رد سريع: 5 دقائق!")
    assert not needs_isolating("plain")
    assert not needs_isolating(joined(["عربي", "Quick"], " | "))


def test_table_cells_with_right_to_left_text_are_isolated_and_still_escaped():
    frame = pd.DataFrame({"comment": ["<b>عربي</b>!", "plain <b>"], "examples": [joined(["عربي", "x"], " | "), "y"]},
                         index=pd.Index(["الشحن", "other"], name="category"))
    page = table_html(frame, ["prose", "prose"])
    assert "<th><bdi>الشحن</bdi></th>" in page
    assert '<td class="prose"><bdi>&lt;b&gt;عربي&lt;/b&gt;!</bdi></td>' in page
    assert f'<td class="prose">{FSI}عربي{PDI} | {FSI}x{PDI}</td>' in page  # pieces isolated: the cell is not
    assert '<td class="prose">plain &lt;b&gt;</td>' in page and "<bdi>" not in page.split("other")[1]


def test_a_name_in_a_right_to_left_script_is_isolated_in_its_direction_and_mixed_text_left_to_right():
    for name in ("ضبط", "فرع 12!", "עברית", "الشحن - السريع"):
        assert is_right_to_left_name(name), name
    for value in ("control", "Per team فريق", "12", "", "<b>עברית</b>", "中文"):
        assert not is_right_to_left_name(value), value
    assert markdown_text("ضبط") == f"{FSI}ضبط{PDI}"
    assert markdown_text("فرع [1]!") == FSI + "فرع \\[1\\]\\!" + PDI  # still escaped inside
    assert markdown_text("control") == "control" and markdown_text("中文 <b>") == "中文 &lt;b&gt;"
    # Two scripts (a name such as "Riyadh الرياض", or a sentence quoting a name): left to right, as the report reads.
    assert markdown_text("Per team فريق") == f"{LRI}Per team فريق{PDI}"
    assert markdown_text("<b>עברית</b>") == f"{LRI}&lt;b&gt;עברית&lt;/b&gt;{PDI}"  # decided on the value, not its escapes
    assert not needs_isolating(markdown_text("Riyadh الرياض"))  # a cell holding it is not isolated again
