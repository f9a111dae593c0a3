"""Hostile and degenerate comment columns: no traceback, every degenerate case skipped with its reason, run time
bounded by the characters read per comment, and no personal data in the example comments a page shows."""

import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

import study.feedback
from study.core.results import Skipped
from study.core.tables import column_kinds
from study.feedback.discover import (
    EXAMPLE_CHARACTERS,
    discover,
    example,
    readable,
    split_sentences,
    vectorizer,
)
from study.feedback.lexicon import MAX_CHARACTERS, delivery, starter
from study.feedback.privacy import EMAIL, LINK, NUMBER, mask_personal
from study.report.html_table import table_html

SENTENCES = ("The reply was very slow.", "The agent was rude.", "My problem is still unresolved.",
             "Great service, thank you!", "Still waiting for my refund.", "Had a question about my order.")


def frame(comments, n: int | None = None, seed: int = 5) -> pd.DataFrame:
    """Tickets with outcomes and confounders, and the given comment column."""
    n = len(comments) if n is None else n
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in rng.integers(0, max(n // 2, 1), n)],
        "category": rng.choice(["billing", "returns"], n), "channel": rng.choice(["chat", "email"], n),
        "first_response_minutes": np.exp(rng.normal(4, 1, n)), "resolved": rng.random(n) < 0.8,
        "csat": rng.integers(1, 6, n).astype(float), "repeat_purchase": rng.random(n) < 0.5,
        "comment": comments,
    })


def varied(n: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(SENTENCES, 2, replace=False)) for _ in range(n)]


def shown_everywhere(result) -> str:
    """Every text the page shows, so a test can look for tracebacks and empty intervals."""
    parts = [f.text for f in result.findings()] + list(result.notes)
    for table in (result.table(), result.band_table(), result.resolution_table(), result.topics()):
        parts.append(table.reason if isinstance(table, Skipped) else table.to_string())
    return " ".join(parts)


@pytest.mark.parametrize("comments, reason", [
    (["", " ", "\t\n"] * 40, "no ticket has a comment"),
    (["😀👍🔥", "🙄", "!!!", "…", "★★★★★"] * 24, "none of the 120 comments holds a word"),
    (list(np.arange(120) % 7), "none of the 120 comments holds a word"),  # a column of numbers
    ([str(v) for v in np.linspace(0, 5, 120)], "none of the 120 comments holds a word"),  # numbers read as text
], ids=["empty-and-whitespace", "only-emoji", "numbers", "numbers-as-text"])
def test_no_usable_comment_skips_the_analysis_with_its_reason(comments, reason):
    result = study.feedback.analyse(frame(comments))
    assert reason in result.skipped
    assert result.table().reason == result.skipped and isinstance(result.topics(), Skipped)
    text = shown_everywhere(result)
    assert reason in text and "Traceback" not in text and "0.0 (0.0 to 0.0)" not in text
    assert result.ledger.rows_in == 120 and sum(result.ledger.dropped.values()) == 120


def test_wordless_comments_are_left_out_and_counted():
    comments = varied(200) + ["👍"] * 30 + ["12345"] * 20 + [None] * 10
    result = study.feedback.analyse(frame(comments))
    assert not result.skipped and len(result.comments) == 200
    assert result.ledger.dropped["comment without a word (only emoji, symbols or digits)"] == 50
    assert result.ledger.dropped["no comment (the customer wrote nothing)"] == 10
    slow = result.shares["slow_reply"]
    assert slow.n == 200  # the share is of worded comments: wordless ones would only dilute it


def test_all_comments_identical():
    result = study.feedback.analyse(frame(["The agent was rude."] * 300))
    assert isinstance(result.discovery, Skipped) and "only 1 distinct text" in result.discovery.reason
    rude = result.associations["csat"]["rude_agent"]
    assert isinstance(rude, Skipped) and "300 of 300 comments" in rude.reason  # nobody to compare with
    assert result.shares["rude_agent"].value == 1.0
    text = shown_everywhere(result)
    assert "Traceback" not in text and "0.0 (0.0 to 0.0)" not in text


def test_one_comment():
    result = study.feedback.analyse(frame(["The agent was rude."] + [""] * 99))
    assert "only 1 comment:" in result.discovery.reason
    share = result.shares["rude_agent"]
    assert (share.ci_low, share.ci_high) == pytest.approx(proportion_confint(1, 1, 0.05, method="wilson"))
    assert all(isinstance(e, Skipped) for by_theme in result.associations.values() for e in by_theme.values())
    text = shown_everywhere(result)
    assert "Traceback" not in text and "0.0 (0.0 to 0.0)" not in text


def test_very_long_comments_are_read_up_to_the_cap_in_bounded_time():
    long = ["The reply was very slow. " * 4000 + "The agent was rude."] * 30  # 100,000 characters each
    comments = varied(90) + [c + str(i) for i, c in enumerate(long)]
    started = time.perf_counter()
    result = study.feedback.analyse(frame(comments))
    seconds = time.perf_counter() - started
    assert seconds < 15, f"{seconds:.1f} s"
    # The rude agent stands past the characters read: the long comments do not name it.
    assert len(long[0]) >= 100_000 > MAX_CHARACTERS
    assert not result.themes["rude_agent"].iloc[90:].any() and result.themes["slow_reply"].iloc[90:].all()
    capped = starter().match(pd.Series([c[:MAX_CHARACTERS] for c in comments]))
    assert (capped.to_numpy() == result.themes.to_numpy()).all()
    examples = result.topics()["examples"]
    assert all(len(e) <= 3 * (EXAMPLE_CHARACTERS + 3) for e in examples)


def test_one_very_long_comment_does_not_widen_every_comment_in_memory():
    # A fixed-width string array of 600 comments as wide as the longest (100,000 characters) takes 240 MB a copy;
    # the comments themselves take under 1 MB once cut to the characters read.
    comments = varied(599) + ["The agent was rude. " + "x" * 100_000]
    data = frame(comments)
    tracemalloc.start()
    try:
        themes = starter().match(data["comment"])
        _, matching = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = study.feedback.analyse(data)
        _, analysing = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert matching < 20e6, f"matching peaked at {matching / 1e6:.0f} MB"
    assert analysing < 100e6, f"the analysis peaked at {analysing / 1e6:.0f} MB"
    assert themes["rude_agent"].iloc[-1] and (result.themes.to_numpy() == themes.to_numpy()).all()
    expected = [starter().mentions(c, "slow_reply") for c in comments]
    assert themes["slow_reply"].tolist() == expected


def test_markup_in_comments_stays_text_and_is_escaped_where_shown():
    hostile = ["<script>alert(1)</script> the reply was very slow", "<b>rude</b> agent, <img src=x onerror=alert(2)>"]
    comments = varied(100) + hostile * 30
    result = study.feedback.analyse(frame(comments))
    topics = result.topics()
    assert isinstance(topics, pd.DataFrame)
    page = table_html(topics.reset_index(), column_kinds(topics.reset_index()))
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    if any("script" in e for e in topics["examples"]):
        assert "&lt;script&gt;" in page
    assert result.themes["slow_reply"].iloc[100::2].all()


# What the comments below add to their sentence, and the terms it must not leave among the topics' terms.
PERSONAL = ("write to maria.lopes@example.org", "call me on +1 555-123-4567", "<script>alert('x')</script>",
            "<img src=x onerror=alert(2)>", "&lt;script&gt;alert(3)&lt;/script&gt;", "tel 0800 123 4567",
            "see www.minhaloja.com.br/pedido", "paid 129 in 2026")
LEFT_OUT = {"maria", "lopes", "example", "org", "555", "123", "4567", "0800", "script", "alert", "img", "src", "onerror",
            "lt", "gt", "www", "minhaloja", "com", "br", "pedido", "129", "2026", "email", "number", "link"}


def test_discovered_terms_hold_no_personal_data_nor_markup():
    rng = np.random.default_rng(6)
    comments = pd.Series([f"{rng.choice(SENTENCES)} {rng.choice(PERSONAL)}" for _ in range(400)])
    found = discover(comments, 6, 1)
    words = {w for terms in found.terms for term in terms for w in term.removeprefix("not_").split()}
    assert not words & LEFT_OUT, sorted(words & LEFT_OUT)
    assert {"slow", "rude", "refund"} <= words  # the sentences still make the topics
    # Not only the top terms: no term of the whole vocabulary is personal data or markup.
    sentences = split_sentences(comments.map(readable))
    vocabulary = set(vectorizer(False, len(sentences)).fit(sentences.tolist()).get_feature_names_out())
    assert not vocabulary & LEFT_OUT and "contact" not in vocabulary
    assert readable("<b>slow</b> reply, mail a@b.com") == " slow  reply, mail  "


def test_discovered_chinese_terms_hold_no_numbers_nor_markup():
    rng = np.random.default_rng(7)
    pieces = ["送餐太慢了", "味道很好吃", "态度很差", "退款还没到", "骑手很准时"]
    extras = ["电话13912345678", "<script>alert(1)</script>", "花了39元", "订单号2026112301"]
    comments = pd.Series([f"{rng.choice(pieces)}，{rng.choice(extras)}" for _ in range(300)])
    found = discover(comments, 6, 1)
    assert found.analyzer == "characters"
    terms = [term for terms in found.terms for term in terms]
    # No Latin letter (markup), no pure number; digits only as in the price, not from the masked phone and order.
    assert not [t for t in terms if any("a" <= c <= "z" for c in t) or t.isdigit()], terms
    assert all(t in "花了39元" for t in terms if any(c.isdigit() for c in t)), terms
    assert {"太慢", "退款", "态度"} <= set(terms)


def test_mixed_scripts():
    rng = np.random.default_rng(2)
    pieces = ["the reply was slow", "o atendente foi grosso", "送餐太慢了", "退款还没到", "great service 谢谢",
              "demorou demais", "态度很差 rude"]
    comments = [" ".join(rng.choice(pieces, 2, replace=False)) for _ in range(200)]
    result = study.feedback.analyse(frame(comments))
    assert not result.skipped
    for theme, words in {"slow_reply": ("slow", "demorou", "慢"), "rude_agent": ("grosso", "rude", "态度很差"),
                         "refund_delay": ("退款",)}.items():
        expected = pd.Series([any(w in c for w in words) for c in comments], index=result.themes.index)
        assert (result.themes[theme] == expected).all(), theme
    assert "Traceback" not in shown_everywhere(result)


@pytest.mark.parametrize("written, shown", [
    ("Write to joao.silva+x@gmail.com or call (11) 98765-4321, order 123456789012.",
     f"Write to {EMAIL} or call {NUMBER}, order {NUMBER}."),
    ("card 4111 1111 1111 1111 charged twice, see https://shop.example/o?id=7 and help.example.com today",
     f"card {NUMBER} charged twice, see {LINK} and {LINK} today"),
    ("Ligue +55 11 3456-7890, pedido 2026-0012345, site www.loja.com.br/pedido, R$ 129,90 em 30/11/2026 às 12:45",
     f"Ligue {NUMBER}, pedido {NUMBER}, site {LINK}, R$ 129,90 em 30/11/2026 às 12:45"),
    ("请联系我13812345678，邮箱abc@qq.com谢谢，订单号：１２３４５６７８９０，网址http://x.cn/a。太慢了",
     f"请联系我{NUMBER}，邮箱{EMAIL}谢谢，订单号：{NUMBER}，网址{LINK}。太慢了"),
    ("waited 3 hours since 2026-11-30, 40% off, +1 agent, slow.me and atrasado.de novo, order 123456",
     "waited 3 hours since 2026-11-30, 40% off, +1 agent, slow.me and atrasado.de novo, order 123456"),
], ids=["english", "card-and-links", "portuguese", "chinese", "kept"])
def test_personal_data_is_masked(written, shown):
    assert mask_personal(written) == shown


def test_examples_of_discovered_topics_are_masked_short_and_on_one_line():
    rng = np.random.default_rng(4)
    contact = ["mail me at ana.souza@example.com.br", "call 415-555-0199 now", "order #98765432101",
               "see http://track.example/abc", "meu telefone (21) 99876-5432", "电话13912345678"]
    comments = [f"{rng.choice(SENTENCES)}\n{rng.choice(contact)}" for _ in range(150)]
    found = discover(pd.Series(comments), 4, 1)
    shown = " | ".join(found.topics["examples"])
    assert not any(p in shown for p in ("@", "415-555", "98765432101", "http", "99876", "13912345678"))
    assert any(mark in shown for mark in (EMAIL, NUMBER, LINK))
    assert "\n" not in shown
    assert example("x" * 500 + " a@b.com").endswith("…") and len(example("x" * 500)) == EXAMPLE_CHARACTERS
    assert example("mail a@b.com " + "y" * 100).startswith(f"mail {EMAIL} ")
    # The analysis reads comments unmasked: a theme written next to a phone number is still found.
    assert delivery().mentions("送餐太慢，电话13912345678", "slow_delivery")
