"""The exported reports as a reader sees them: every page opened in headless Chromium, laptop and phone.

Two runs are checked: the default run on the embedded sample, and a run in which one notebook fails (its
page shows the error). Each page must load without console or page errors, fetch nothing but its own
file and data: URLs (a report is one self-contained file), decode every figure, link only to files and
anchors that exist, describe every figure in its alt text, and hold no element wider than a phone's screen.
Each report has a link back to the index and contents whose links land on a visible section (a link into
a collapsed appendix opens it); printed at the width of A4, every table ends inside the page; headless
Chromium prints a report and the index to PDFs that have pages and text. Every table cell carries the class its column was
given where the table was built, and the page lays it out by that class: numbers right-aligned on one
line, text from the left. A full-page screenshot of each page at each width is saved as
build/screenshots/<run>/<page>-<width>.png for people to look at.

The browser is Debian's Chromium (`make test` installs it when it can); set STUDY_CHROMIUM to use another
executable. Without playwright or the executable these tests are skipped.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd
import pytest
from conftest import notebooks_with_a_planted_failure, study_command

from study import analyses, config

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

CHROMIUM = Path(os.environ.get("STUDY_CHROMIUM", "/usr/bin/chromium"))
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
    reason=f"no Chromium at {CHROMIUM} (make test installs Debian's chromium when it can; or set STUDY_CHROMIUM)",
)

# This machine's closed network otherwise fills the log with refused connections to Google services;
# --no-sandbox because CI runs as root, where Chromium's sandbox refuses to start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = config.ROOT / "build" / "screenshots"
EXAMPLES = config.ROOT / "data" / "examples"

WIDTHS = {
    "laptop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True},
}
# All that run on the sample: not the experiment table (no map) nor the rollout (the sample is the pilot, with no go-live)
TICKET_ANALYSES = [a.name for a in analyses.ANALYSES if a.kind != "experiment" and a.name != analyses.ROLLOUT]
FAILED_ONLY = ["01_data_overview", "04_ab_test"]
PAGES = {
    "default": ["index", *TICKET_ANALYSES],
    "failed": ["index", *FAILED_ONLY],
    "hostile": ["index", "05_experiment_table"],
    "rollout": ["index", "07_rollout"],  # the rollout sample with the pilot beside it
    "experiment": ["index", "05_experiment_table"],  # the worked example: the widest tables of any report
}
# An arm, a segment value and a metric name that try to become a link, a remote image and a script.
HOSTILE_ARM = "[x](javascript:alert(3)) ![t](http://evil.example/t.png)"

# Elements wider than the screen that no scrolling box of their own holds (a wide table scrolls inside its box).
OVERFLOWING = """() => {
  const width = window.innerWidth;
  const scrolls = (e) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
  const out = [];
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let holder = element.parentElement;
    while (holder && !scrolls(holder)) holder = holder.parentElement;
    if (!holder || holder.getBoundingClientRect().right > width + 1) {
      out.push(`${element.tagName}.${element.className}: right edge at ${Math.round(box.right)} px`);
    }
  }
  return out.slice(0, 5);
}"""

# Everything the page itself can tell about how it rendered, in one round trip.
_INSPECT = """async () => {
  const images = await Promise.all([...document.images].map(async (img) => {
    const name = (img.getAttribute('src') || '').slice(0, 40);
    try { await img.decode(); } catch (error) { return `${name}: ${error}`; }
    return img.complete && img.naturalWidth > 0 ? null : `${name}: not decoded`;
  }));
  const root = document.documentElement;
  const cells = [...document.querySelectorAll('.jp-OutputArea-output table td')];
  const classed = [...document.querySelectorAll('.jp-OutputArea-output table :is(td, th):is(.num, .text, .prose)')];
  const numbers = cells.filter((cell) => cell.classList.contains('num'));
  const said = (cell) => `${cell.tagName} ${cell.className}: ${cell.textContent.trim().slice(0, 30)}`;
  return {
    unclassed: cells.filter((cell) => !cell.classList.length).map(said),
    misaligned: classed.filter((cell) => getComputedStyle(cell).textAlign !== (cell.classList.contains('num') ? 'right' : 'left')).map(said),
    numbers: numbers.length,
    wrappingNumbers: numbers.filter((cell) => getComputedStyle(cell).whiteSpace !== 'nowrap').map(said),
    wordsAsNumbers: numbers.filter((cell) => !/\\d|^(–|n\\/a|)$/.test(cell.textContent.trim())).map(said),
    title: document.title.trim(),
    images: document.images.length,
    undecoded: images.filter(Boolean),
    wideImages: [...document.images].filter((img) => img.getBoundingClientRect().right > window.innerWidth + 1).length,
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
    alts: [...document.images].map((img) => img.getAttribute('alt') || ''),
    overflowing: (${OVERFLOWING})(),
    scrollWidth: root.scrollWidth,
    innerWidth: window.innerWidth,
  };
}"""
INSPECT = _INSPECT.replace("${OVERFLOWING}", OVERFLOWING)


@dataclass(frozen=True)
class Run:
    """One `study run`: its exit status, what it printed and where it wrote."""

    returncode: int
    output: str
    out: Path

    def told(self) -> str:
        """What the run printed, then its logs: a failure in CI must say why without the folder at hand."""
        logs = sorted(self.out.glob("logs/*.log"))
        return "\n".join([self.output, *(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs)])


def _start(out: Path, *args: str, notebooks: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(study_command("run", "--out", str(out), *args, notebooks=notebooks),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _hostile_experiment(folder: Path) -> list[str]:
    """``--data`` and ``--columns`` of an experiment table whose text tries to become live markup."""
    rng = np.random.default_rng(11)
    n = 1_000
    table = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "group": rng.choice(["control", HOSTILE_ARM], n),
                          "device": rng.choice(["<img src=http://evil.example/i.png>", "![i](http://evil.example/j.png)"], n)})
    table["converted"] = (rng.random(n) < 0.2).astype(int)
    table.to_csv(folder / "hostile.csv", index=False)
    (folder / "hostile.yml").write_text("experiment:\n  unit: user_id\n  arm: group\n  control: control\n"
                                        "  metrics: [converted]\n  segments: [device]\n")
    return ["--data", str(folder / "hostile.csv"), "--columns", str(folder / "hostile.yml")]


@pytest.fixture(scope="module")
def runs(small_study_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The default run and a run with a failed notebook, executed side by side to save wall time."""
    folder = tmp_path_factory.mktemp("browser")
    started = {
        "default": _start(folder / "default"),
        "failed": _start(folder / "failed", "--data", str(small_study_path), "--only", ",".join(FAILED_ONLY),
                         notebooks=notebooks_with_a_planted_failure(folder)),
        "hostile": _start(folder / "hostile", "--only", "05", *_hostile_experiment(folder)),
        # This run also prints its pages to PDF as a user's `study run` does (the others leave that out).
        "rollout": _start(folder / "rollout", "--only", "07", "--data", str(config.DATA / "rollout" / "tickets.parquet"),
                          "--param", f"pilot_path={config.SAMPLE_DATA}", "--pdf", "yes"),
        "experiment": _start(folder / "experiment", "--only", "05", "--data", str(EXAMPLES / "experiment.csv.gz"),
                             "--columns", str(EXAMPLES / "experiment_columns.yml")),
    }
    finished = {}
    try:
        for name, process in started.items():
            output, _ = process.communicate(timeout=900)
            finished[name] = Run(process.returncode, output, folder / name)
    finally:
        for process in started.values():
            if process.poll() is None:  # a run that hung must not outlive the tests
                process.kill()
                process.wait()
    for name in finished:
        shutil.rmtree(SCREENSHOTS / name, ignore_errors=True)  # no stale pictures beside today's
    return finished


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for every page of the module."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_the_runs_wrote_the_pages_under_test(runs: dict[str, Run]) -> None:
    assert runs["default"].returncode == 0, runs["default"].told()
    assert runs["failed"].returncode == 1, runs["failed"].told()  # 04 fails on purpose, 01 still runs
    assert runs["hostile"].returncode == 0, runs["hostile"].told()
    assert runs["rollout"].returncode == 0, runs["rollout"].told()
    assert runs["experiment"].returncode == 0, runs["experiment"].told()
    assert "04_ab_test: failed" in runs["failed"].output
    for name, run in runs.items():
        assert sorted(p.stem for p in run.out.glob("*.html")) == sorted(PAGES[name]), name
        if "the forked kernel did not answer" in run.told():  # the run recovered; the stacks tell why it had to
            warnings.warn(f"a forked kernel of the {name} run did not answer:\n{run.told()}", stacklevel=1)


def _self_contained(url: str) -> bool:
    return url.startswith(("file:", "data:"))


def _broken_links(links: list[str]) -> list[str]:
    """Links to a file that does not exist, or to an anchor (#...) that the file does not hold."""
    broken = []
    for link in links:
        parts = urlsplit(link)
        if parts.scheme != "file":
            continue
        target = Path(unquote(parts.path))
        if not target.is_file():
            broken.append(link)
        elif parts.fragment:
            anchor = unquote(parts.fragment)
            text = target.read_text(encoding="utf-8")
            if f'id="{anchor}"' not in text and f'id="{html.escape(anchor)}"' not in text:
                broken.append(link)
    return broken


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize(("run_name", "page_name"),
                         [pytest.param(run, page, id=f"{run}-{page}") for run, pages in PAGES.items() for page in pages])
def test_page_renders_cleanly(runs: dict[str, Run], browser, run_name: str, page_name: str, width: str) -> None:
    path = runs[run_name].out / f"{page_name}.html"
    assert path.is_file(), runs[run_name].output
    context = browser.new_context(**WIDTHS[width])
    # A report must not reach the network: refuse anything else before it leaves the browser, and record it.
    context.route(lambda url: not _self_contained(url), lambda route: route.abort())
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    def on_request(request) -> None:
        if not _self_contained(request.url):
            problems.append(f"request: {request.url[:80]}")

    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", on_request)
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url[:80]}"))
    try:
        page.goto(path.as_uri(), wait_until="load")
        seen = page.evaluate(INSPECT)
        shot = SCREENSHOTS / run_name / f"{page_name}-{width}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True, scale="css")
    finally:
        context.close()

    assert problems == []
    assert [link for link in seen["links"] if link.lower().startswith("javascript:")] == []
    if run_name == "hostile":
        assert [link for link in seen["links"] if not _self_contained(link)] == []
    assert seen["title"], "the page has no title"
    assert seen["undecoded"] == []
    broken = _broken_links(seen["links"])
    assert not broken, f"links to a missing file or anchor: {broken}"
    if run_name == "default" and page_name != "index":
        assert seen["images"] > 0, "a report without a figure"
        assert seen["numbers"] > 0, "a report without a table of numbers"
    # Every table comes classed by column from where it was built: numbers right-aligned on one line, text from the left.
    assert seen["unclassed"] == [], "table cells without their column's class"
    assert seen["misaligned"] == [], "classed cells laid out against their class"
    assert seen["wrappingNumbers"] == [], "numbers that may break across lines"
    assert seen["wordsAsNumbers"] == [], "words in a column classed as numbers"
    if page_name == "index":
        linked = {Path(unquote(urlsplit(link).path)).name for link in seen["links"]}
        assert {f"{name}.html" for name in PAGES[run_name] if name != "index"} <= linked
    if width == "phone":
        screen = WIDTHS["phone"]["viewport"]["width"]
        # A mobile browser widens its layout viewport to fit content that is too wide (or to 980 px without a
        # viewport tag) and zooms out, so window.innerWidth itself shows the overflow.
        assert seen["scrollWidth"] <= screen + 1 and seen["innerWidth"] == screen, (
            f"the page is {seen['scrollWidth']} px wide on a {screen} px phone: it scrolls sideways or shrinks")
        assert seen["wideImages"] == 0, "a figure is wider than the phone's screen"
        assert seen["overflowing"] == [], f"elements wider than the phone's screen: {seen['overflowing']}"
    assert all(len(alt) > 15 and "No description" not in alt for alt in seen["alts"]), f"figures without a description: {seen['alts']}"


# ---- The parts of a report page around the analysis (study.report.page_parts, figures, pdf) ----

REPORTS = [("default", name) for name in TICKET_ANALYSES] + [("experiment", "05_experiment_table")]
# A4 less the 12 mm margins of the report's @page rule, in CSS pixels (96 per inch).
A4_PRINTABLE = round((210 - 2 * 12) / 25.4 * 96)

# Follow every contents link as a reader clicks it; report which lead nowhere visible, and what the page's parts are.
FOLLOW_CONTENTS = """() => {
  const shown = (element) => element && element.getClientRects().length > 0;
  const links = [...document.querySelectorAll('nav.toc a')];
  const hidden = [];
  for (const link of links) {
    link.click();
    const target = document.getElementById(decodeURIComponent(link.getAttribute('href').slice(1)));
    if (!shown(target)) hidden.push(link.getAttribute('href'));
  }
  const sections = [...document.querySelectorAll('main h2, details.appendix')]
    .filter((e) => !e.closest('summary')).map((e) => e.id);
  return {
    back: [...document.querySelectorAll('a')].filter((a) => a.getAttribute('href') === 'index.html' && shown(a)).length,
    contents: links.map((a) => decodeURIComponent(a.getAttribute('href').slice(1))),
    sections, hidden,
    headingsWithoutId: [...document.querySelectorAll('main :is(h2, h3)')].filter((h) => !h.id && !h.closest('summary')).length,
    alts: [...document.images].map((img) => img.getAttribute('alt') || ''),
  };
}"""



# In print layout, every table's last column inside the page, and the appendix's tables printed.
LAST_COLUMNS = """() => {
  const width = window.innerWidth;
  const out = [];
  const tables = [...document.querySelectorAll('main table')];
  for (const table of tables) {
    const rows = [...table.rows];
    const right = Math.max(...rows.map((row) => row.cells.length ? row.cells[row.cells.length - 1].getBoundingClientRect().right : 0));
    let clip = table.parentElement;
    let visible = width;
    while (clip) { if (getComputedStyle(clip).overflowX !== 'visible') visible = Math.min(visible, clip.getBoundingClientRect().right); clip = clip.parentElement; }
    if (right > visible + 1) out.push(`${(rows[0] && rows[0].textContent.trim().slice(0, 40))}: last column ends at ${Math.round(right)} px of ${Math.round(visible)}`);
  }
  return {clipped: out, tables: tables.length, unprinted: tables.filter((t) => t.getClientRects().length === 0).length};
}"""


def _open(browser, path: Path, **context):
    context = browser.new_context(**context)
    context.route(lambda url: not _self_contained(url), lambda route: route.abort())
    page = context.new_page()
    page.goto(path.as_uri(), wait_until="load")
    return context, page


@pytest.mark.parametrize(("run_name", "page_name"), [pytest.param(r, p, id=p) for r, p in REPORTS])
def test_report_contents_back_link_and_figures(runs: dict[str, Run], browser, run_name: str, page_name: str) -> None:
    """Every report: a visible way back to the index, contents that name every section and whose every link
    lands on something visible (an appendix opens), ids on all section headings, and a description on every figure."""
    context, page = _open(browser, runs[run_name].out / f"{page_name}.html", **WIDTHS["laptop"])
    try:
        seen = page.evaluate(FOLLOW_CONTENTS)
    finally:
        context.close()
    assert seen["back"] == 1, "no visible link back to the index"
    assert seen["sections"] and set(seen["sections"]) <= set(seen["contents"]), "a section missing from the contents"
    assert "Glossary" in seen["contents"]
    assert seen["hidden"] == [], "contents links that land on nothing visible"
    assert seen["headingsWithoutId"] == 0
    assert seen["alts"] and all(len(alt) > 15 and "No description" not in alt for alt in seen["alts"]), seen["alts"]


def test_a_link_into_an_appendix_opens_it(browser, tmp_path: Path) -> None:
    """Arriving with a fragment inside a closed appendix (as from the index) opens it; printing opens them all."""
    import nbformat

    from study.report.export import export_html

    md = nbformat.v4.new_markdown_cell
    notebook = nbformat.v4.new_notebook(cells=[
        md("# A report\n\nIts first paragraph."), md("## Findings\n\nWhat it found."),
        md("## Appendix: model fits\n\nThe full models."), md("### Standard errors\n\nUnder other assumptions."),
    ])
    nbformat.write(notebook, tmp_path / "report.ipynb")
    path = export_html(tmp_path / "report.ipynb", tmp_path / "report.html")
    (tmp_path / "index.html").write_text("<title>index</title>")
    opened = "() => [...document.querySelectorAll('details.appendix')].map((d) => d.open)"
    context, page = _open(browser, path, **WIDTHS["phone"])
    try:
        assert page.evaluate(opened) == [False]
        page.goto(f"{path.as_uri()}#Standard-errors", wait_until="load")
        page.reload(wait_until="load")  # a fresh arrival with the fragment
        assert page.evaluate(opened) == [True]
        assert page.evaluate("() => document.getElementById('Standard-errors').getBoundingClientRect().top") < 844
        page.goto(path.as_uri(), wait_until="load")
        page.reload(wait_until="load")
        page.emulate_media(media="print")
        assert page.evaluate("() => document.getElementById('Standard-errors').getClientRects().length") > 0
    finally:
        context.close()


# The left edge of the first text ``ch`` in the first element matching ``selector`` whose text holds ``marker``.
CHARACTER_LEFT = """([selector, marker, ch]) => {
  const cell = [...document.querySelectorAll(selector)].find((e) => e.textContent.includes(marker));
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT); let node;
  while ((node = walker.nextNode())) { const i = node.data.indexOf(ch);
    if (i >= 0) { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + ch.length); return r.getBoundingClientRect().left; } }
  return null; }"""


def test_right_to_left_comments_keep_their_order_and_punctuation(browser, tmp_path: Path) -> None:
    """A comment in Arabic ends with its "!" at its left; a list of comments in Arabic, Hebrew and English reads
    in its order from the left; a finding naming arms in Arabic keeps each count after its arm (without
    isolation the first put its "!" at the right end, the second showed the Hebrew comment left of the Arabic
    one, the third showed the counts before their arms and the second arm first, as did a name mixing scripts:
    study.core.bidi)."""
    import nbformat

    from study.core.bidi import joined
    from study.core.words import text
    from study.report.export import export_html
    from study.report.html_table import HtmlTable

    table = pd.DataFrame({"comment": ["رد سريع من الدعم: 5 دقائق!"], "examples": [joined(["عربي!", "עברית", "Quick"], " | ")]},
                         index=pd.Index(["الشحن"], name="category"))
    output = nbformat.v4.new_output("display_data", data={"text/html": HtmlTable(table, ["prose", "prose"])._repr_html_(),
                                                          "text/plain": repr(table)})
    finding = f"Customers per arm ({text('ضبط')} 1,234, {text('معالجة')} 1,300) differ from the planned split."
    mixed = f"Tickets per branch ({text('Riyadh الرياض')} 1,234, {text('Cairo القاهرة')} 1,300) as planned."
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A report"),
                                               nbformat.v4.new_code_cell("table", outputs=[output]),
                                               nbformat.v4.new_markdown_cell(finding), nbformat.v4.new_markdown_cell(mixed)])
    nbformat.write(notebook, tmp_path / "report.ipynb")
    (tmp_path / "index.html").write_text("<title>index</title>")
    context, page = _open(browser, export_html(tmp_path / "report.ipynb", tmp_path / "report.html"), **WIDTHS["laptop"])
    try:
        left = {(n, ch): page.evaluate(CHARACTER_LEFT, ["td", ("دقائق", "Quick")[n], ch])
                for n, ch in [(0, "!"), (0, "ر"), (1, "!"), (1, "ع"), (1, "ע"), (1, "Q")]}
        said = {ch: page.evaluate(CHARACTER_LEFT, ["p", "Customers per arm", ch]) for ch in ("ض", "1,234", "م", "1,300")}
        branches = {ch: page.evaluate(CHARACTER_LEFT, ["p", "Tickets per branch", ch])
                    for ch in ("Riyadh", "ض", "1,234", "Cairo", "ق", "1,300")}
    finally:
        context.close()
    assert left[0, "!"] < left[0, "ر"], left
    assert left[1, "!"] < left[1, "ع"] < left[1, "ע"] < left[1, "Q"], left
    assert said["ض"] < said["1,234"] < said["م"] < said["1,300"], said
    # A name mixing scripts and ending in Arabic keeps its count after it too.
    assert branches["Riyadh"] < branches["ض"] < branches["1,234"] < branches["Cairo"] < branches["ق"] < branches["1,300"], branches


@pytest.mark.parametrize(("run_name", "page_name"), [("default", "04_ab_test"), ("experiment", "05_experiment_table"),
                                                    ("default", "index")])
def test_printed_at_a4_no_table_loses_a_column(runs: dict[str, Run], browser, run_name: str, page_name: str) -> None:
    """In print layout at the printable width of A4, every table (the appendix's included) ends inside the page."""
    context, page = _open(browser, runs[run_name].out / f"{page_name}.html",
                          viewport={"width": A4_PRINTABLE, "height": 1100})
    try:
        page.emulate_media(media="print")
        seen = page.evaluate(LAST_COLUMNS)
        shot = SCREENSHOTS / run_name / f"{page_name}-print-a4.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert seen["tables"] > 0
    assert seen["unprinted"] == 0, "tables left out of the printout (a closed appendix?)"
    assert seen["clipped"] == [], seen["clipped"]


def test_pdfs_are_printed_and_open(runs: dict[str, Run], tmp_path: Path) -> None:
    """Headless Chromium prints a report and the index to PDFs with pages and text a reader can search."""
    from study.report import pdf

    pages = []
    for name in ("04_ab_test", "index"):
        page = tmp_path / f"{name}.html"
        shutil.copy(runs["default"].out / f"{name}.html", page)  # printed beside a copy: the run's folder stays as written
        pages.append(page)
    printed = pdf.print_pdfs(pages, chromium=CHROMIUM)
    assert all(isinstance(path, Path) for path in printed.values()), printed
    for name, path in printed.items():
        data = path.read_bytes()
        assert data.startswith(b"%PDF-")
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) > 0, f"{name}.pdf has no page"
        try:
            import pypdf
        except ImportError:  # without a PDF reader: fonts that map glyphs back to text are what makes text extractable
            assert b"/ToUnicode" in data, f"{name}.pdf has no text a reader can extract"
            continue
        text = " ".join(p.extract_text() for p in pypdf.PdfReader(path).pages)
        title = html.unescape(re.search(r"<title>(.*?)</title>", (path.with_suffix(".html")).read_text(encoding="utf-8"), re.DOTALL)[1])
        assert " ".join(title.split())[:30] in " ".join(text.split()), f"{name}.pdf does not hold its title as text"


# ---- The index: headline, verdict and results table a director reads first ----

INDEX_PARTS = """() => {
  const box = (e) => e ? e.getBoundingClientRect() : null;
  const rows = [...document.querySelectorAll('table.results tr')].slice(1);
  const verdict = document.querySelector('ul.verdicts li');
  const headline = document.querySelector('p.headline');
  return {
    title: document.querySelector('h1').textContent.trim(),
    headline: headline ? headline.textContent.trim() : '',
    headlineBottom: headline ? box(headline).bottom : null,
    verdictBottom: verdict ? box(verdict.querySelector('.chip')).bottom : null,
    verdictReasonBottom: verdict ? Math.max(...[...verdict.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim())
      .map((n) => { const r = document.createRange(); r.selectNode(n); return r.getBoundingClientRect().bottom; })) : null,
    rows: rows.map((row) => ({
      value: row.querySelector('td.value').textContent.trim(),
      interval: row.querySelector('td.interval').textContent.trim(),
      chips: [...row.querySelectorAll('.chip')].map((c) => c.textContent.trim()),
      bar: !!row.querySelector('td.interval svg'),
      href: (row.querySelector('td.label a') || {}).href || '',
    })),
  };
}"""


def test_the_index_shows_headline_verdict_and_reason_above_the_fold_then_the_results_table(runs: dict[str, Run], browser) -> None:
    """At 1366 x 768 the headline, the verdict and its reason are on the first screen; the results table has a value,
    an interval drawn against no difference, and a kind-of-evidence chip for every key estimate, linked to its section."""
    context, page = _open(browser, runs["default"].out / "index.html", viewport={"width": 1366, "height": 768})
    try:
        seen = page.evaluate(INDEX_PARTS)
    finally:
        context.close()
    assert re.fullmatch(r"tickets\.parquet, \d+ \w{3} \d{4} to \d+ \w{3} \d{4}", seen["title"]), seen["title"]
    assert re.search(r"\d", seen["headline"]), "the headline carries no number"
    assert seen["headlineBottom"] <= 768 and seen["verdictBottom"] <= 768 and seen["verdictReasonBottom"] <= 768, seen
    assert len(seen["rows"]) >= 8
    for row in seen["rows"]:
        assert re.search(r"\d", row["value"]) and row["chips"], row
        assert row["href"].endswith(".html") or "#" in row["href"], row
        if row["interval"]:
            assert row["interval"].startswith("95% CI")
    assert any(row["bar"] for row in seen["rows"]) and any("causal" in " ".join(row["chips"]) for row in seen["rows"])
    assert any(row["chips"][-1] in {"Ship", "Don't ship", "Inconclusive"} for row in seen["rows"])


def test_a_run_prints_its_reports_and_index_to_pdf_and_links_them(runs: dict[str, Run]) -> None:
    """`study run --pdf yes`: a PDF beside each page, linked from the index and listed among the run's files."""
    out = runs["rollout"].out
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in PAGES["rollout"]:
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF-"), name
    assert 'href="07_rollout.pdf"' in page and 'href="index.pdf"' in page
    listed = json.loads((out / "run.json").read_text())["study report"]["files"]
    assert {"07_rollout.pdf", "index.pdf", "results.csv"} <= set(listed)
    assert "printed to PDF" in runs["rollout"].output
