"""Text from the data never becomes live markup in a report: not HTML, not Markdown, not TeX.

Category, channel, tier and agent values of a ticket file and the arms, segments and metric of an
experiment table carry links, images, scripts and dollar signs; every report and the index must show
them as text, hold no ``javascript:`` URL and load nothing from elsewhere.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from study.core import words
from study.data import simulate

LINK = "[x](javascript:alert(3)) ![t](http://evil.example/t.png)"
HOSTILE = [LINK, "<script>alert(1)</script>", "**bold** _it_ `code` ~~s~~ | a | b |", "$5 off $\\x$ coupon", "www.evil.example"]


def live_markup(page: str) -> list[str]:
    """What in an HTML page would run or load: javascript: URLs, remote sources, links out."""
    found = re.findall(r"""(?:href|src)\s*=\s*["']?\s*javascript:[^"' >]*""", page, re.IGNORECASE)
    found += re.findall(r"""src\s*=\s*["']?(?:https?:)?//[^"' >]*""", page, re.IGNORECASE)
    found += re.findall(r"""<a\s[^>]*href\s*=\s*["']?(?:https?:)?//[^"' >]*evil[^"' >]*""", page, re.IGNORECASE)
    found += re.findall(r"<script>alert", page)
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "study.cli", "run", *args], capture_output=True, text=True)


@pytest.mark.parametrize("value", HOSTILE)
def test_findings_text_renders_as_the_very_characters(value):
    from nbconvert.filters.markdown import markdown2html

    rendered = markdown2html(words.text(value))
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered
    assert "<strong>" not in rendered and "<em>" not in rendered and "<code>" not in rendered and "<del>" not in rendered
    assert html.unescape(re.sub(r"</?p>", "", rendered)).strip() == value


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    tickets = simulate.simulate(rows=2_000, seed=5).tickets
    rng = np.random.default_rng(5)
    for column in ("category", "channel", "loyalty_tier"):
        values = tickets[column].astype(str).to_numpy()
        values[rng.random(len(values)) < 0.3] = HOSTILE[rng.integers(len(HOSTILE))]
        tickets[column] = values
    tickets["agent_id"] = np.where(rng.random(len(tickets)) < 0.1, LINK, tickets["agent_id"].astype(str))
    tickets.to_csv(folder / "tickets.csv", index=False)

    n = 1_200
    table = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "group": rng.choice(["control", LINK], n),
        "device": rng.choice(HOSTILE[1:], n),
        "pre_spend": rng.gamma(2, 20, n).round(2),
    })
    table["converted"] = (rng.random(n) < 0.1 + 0.05 * (table["group"] != "control")).astype(int)
    table["spend $ [usd](javascript:alert(4))"] = table["converted"] * rng.gamma(2, 30, n).round(2)
    table.to_csv(folder / "experiment.csv", index=False)
    (folder / "map.yml").write_text(
        "experiment:\n  unit: user_id\n  arm: group\n  control: control\n"
        "  metrics: [converted, 'spend $ [usd](javascript:alert(4))']\n  covariate: pre_spend\n  segments: [device]\n"
    )
    # Side by side: the one-notebook experiment run mostly starts processes, which the tickets run overlaps.
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = {
            "tickets": pool.submit(run, "--data", str(folder / "tickets.csv"), "--out", str(folder / "tickets")),
            "experiment": pool.submit(run, "--data", str(folder / "experiment.csv"), "--columns", str(folder / "map.yml"),
                                      "--only", "05", "--out", str(folder / "experiment")),
        }
    return folder, {kind: future.result() for kind, future in started.items()}


@pytest.mark.parametrize("kind", ["tickets", "experiment"])
def test_no_report_holds_live_markup_from_the_data(hostile_runs, kind):
    folder, results = hostile_runs
    result = results[kind]
    assert result.returncode == 0, result.stdout + result.stderr
    pages = sorted((folder / kind).glob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert live_markup(text) == [], page.name
    assert "failed" not in result.stdout, result.stdout
