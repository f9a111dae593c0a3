"""The parts of a report page around the analysis, on a small notebook exported without a kernel: the
back-link and contents, the collapsed appendix, the glossary, figures' alt text and phone copy, plain method
names, and the PDF printer's answers when it cannot print."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import matplotlib
import nbformat
import pytest
from bs4 import BeautifulSoup

from study import config
from study.report import figures, glossary, page_parts, pdf
from study.report.export import export_html

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend that needs no screen


def _figure():
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = ["naive slope (nothing held fixed)", "adjusted direct slope (category, channel, tier, agent)"]
    ax.errorbar([-0.2, -0.15], [0, 1], xerr=0.02, fmt="o")
    ax.set_yticks([0, 1], labels)
    ax.set(title="Naive slope -0.20, adjusted -0.15 CSAT points per doubling of the wait", xlabel="change in CSAT")
    fig.tight_layout()
    return fig


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> BeautifulSoup:
    """A notebook with a title, sections, a figure, a table, an appendix and a section after it, exported."""
    fig = _figure()
    png, metadata = figures.png_with_metadata(figures.describe(fig, "Two slopes: naive -0.20, adjusted -0.15."))
    plt.close(fig)
    md = nbformat.v4.new_markdown_cell
    table = ('<table><thead><tr><th>metric</th><th class="num">p (BH)</th></tr></thead><tbody>'
             '<tr><td class="text">CUPED spend</td><td class="num">0.004 CUPED</td></tr></tbody></table>')
    figure_cell = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure>"}, metadata={"image/png": metadata})])
    table_cell = nbformat.v4.new_code_cell("table()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": table, "text/plain": "table"})])
    notebook = nbformat.v4.new_notebook(cells=[
        md("# The test report\n\nA first paragraph that uses CUPED once and [a CUPED link](#Effects)."),
        md("## Effects\n\nThe CUPED estimate, with `CUPED` in code, a p-value and Holm's correction."),
        md("### Per metric\n\nOne line."),
        figure_cell,
        md("## Appendix: model fits\n\nThe full models, with HC1 standard errors."),
        table_cell,
        md("### Standard errors\n\nMore."),
        md("## Rows used\n\nEvery row counted."),
    ])
    folder = tmp_path_factory.mktemp("page")
    executed = folder / "report.ipynb"
    nbformat.write(notebook, executed)
    path = export_html(executed, folder / "report.html")
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _ids(soup: BeautifulSoup) -> set[str]:
    return {element["id"] for element in soup.find_all(id=True)}


def test_a_back_link_to_the_index_comes_before_the_title(page: BeautifulSoup) -> None:
    back = page.select_one("main > p.back-link > a")
    assert back is not None and back["href"] == "index.html" and "All reports" in back.text
    assert back.find_next("h1").text.startswith("The test report")


def test_the_contents_list_every_section_and_each_link_resolves(page: BeautifulSoup) -> None:
    nav = page.select_one("nav.toc")
    assert nav is not None and nav.find_previous("h1") is not None, "the contents come after the title"
    targets = [a["href"][1:] for a in nav.select("a")]
    assert targets == ["Effects", "Per-metric", "Appendix:-model-fits", "Standard-errors", "Rows-used", "Glossary"]
    assert set(targets) <= _ids(page)
    # A ### section is listed, unnumbered, under its ## section.
    assert [li.a.text for li in nav.select("ol > li")] == ["Effects", "Appendix: model fits", "Rows used", "Glossary"]
    assert [li.a.text for li in nav.select("ol > li > ul > li")] == ["Per metric", "Standard errors"]


def test_an_appendix_is_collapsed_up_to_the_next_section(page: BeautifulSoup) -> None:
    details = page.find("details", id="Appendix:-model-fits")
    assert details is not None and not details.has_attr("open")
    assert details.summary.h2.get_text(strip=True) == "Appendix: model fits"
    assert details.find("table") is not None and details.find(id="Standard-errors") is not None
    assert details.find(id="Rows-used") is None and page.find(id="Rows-used") is not None
    assert len(page.find_all(id="Appendix:-model-fits")) == 1, "the heading's id moved to the details, not copied"


def test_the_first_use_of_each_term_is_marked_in_body_text_only(page: BeautifulSoup) -> None:
    marked = [(a.abbr.text, a["href"]) for a in page.select("a.term")]
    assert ("CUPED", "#glossary-cuped") in marked and ("p-value", "#glossary-p-value") in marked
    assert ("Holm's", "#glossary-holm") in marked and ("HC1", "#glossary-hc1") in marked
    assert [m for m, _ in marked].count("CUPED") == 1
    first = page.select_one("a.term")
    assert first.find_parent("p") is not None and first.abbr["title"] == glossary.TERMS["CUPED"]
    for where in page.select("h1, h2, h3, code, td.num, a:not(.term), nav"):
        assert where.select("a.term, abbr") == [], where
    assert {a["href"][1:] for a in page.select("a.term")} <= _ids(page)


def test_the_glossary_lists_the_terms_the_page_uses(page: BeautifulSoup) -> None:
    section = page.select_one("section.glossary")
    assert section is not None and section.h2["id"] == "Glossary"
    assert section.find_next_sibling() is None or section.find_next("h2") is None, "the glossary ends the page"
    listed = [dt.text for dt in section.select("dt")]
    assert sorted(listed, key=str.lower) == listed
    assert set(listed) == {glossary.term_of(a.abbr.text) for a in page.select("a.term")}


def test_a_figure_has_its_description_and_a_phone_copy(page: BeautifulSoup) -> None:
    picture = page.select_one(".jp-RenderedImage picture")
    assert picture.img["alt"] == "Two slopes: naive -0.20, adjusted -0.15."
    source = picture.source
    assert source["media"] == "(max-width: 40rem)" and source["srcset"].startswith("data:image/png;base64,")
    assert source["srcset"].endswith(f" {figures.PHONE_DPI / 96:g}x")


def test_the_phone_copy_fits_a_phone_and_leaves_the_figure_as_it_was() -> None:
    from PIL import Image

    fig = _figure()
    size, title, labels = tuple(fig.get_size_inches()), fig.axes[0].get_title(), [t.get_text() for t in fig.axes[0].get_yticklabels()]
    phone = Image.open(io.BytesIO(figures.phone_png(fig)))
    # Wider than this, the browser would shrink it, and its text with it, to fit the screen.
    assert phone.width <= figures.PHONE_WIDTH * 1.1 * figures.PHONE_DPI
    assert tuple(fig.get_size_inches()) == size and fig.axes[0].get_title() == title
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == labels
    plt.close(fig)


def test_alt_text_without_a_description_comes_from_titles_and_labels() -> None:
    fig = _figure()
    assert figures.alt_text(fig) == ("Chart: Naive slope -0.20, adjusted -0.15 CSAT points per doubling of the wait: "
                                     "change in CSAT.")
    with pytest.raises(ValueError, match="non-empty"):
        figures.describe(fig, " ")
    plt.close(fig)
    png, metadata = figures.png_with_metadata(plt.figure())
    assert metadata["alt"] == "Chart without a title or axis labels." and base64.b64decode(png)[:4] == b"\x89PNG"


def test_every_method_code_of_the_ab_engine_has_a_plain_name() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (config.ROOT / "src" / "study" / "ab").glob("*.py"))
    codes = set(re.findall(r'"([a-z][a-z0-9]*(?:_[a-z0-9]+)+): ', source))  # "welch_t: Welch's ...", method texts
    codes |= set(re.findall(r'code = "([a-z0-9_]+)"', source))
    codes |= set(re.findall(r'"((?:delta|cuped|z)_[a-z0-9_]+)"', source))
    assert codes, "no method code found: the pattern no longer matches how the engine writes them"
    assert sorted(c for c in codes if c not in glossary.METHODS) == []
    assert glossary.method_name("delta_ratio_welch_t") == "ratio over customers, delta method, Welch t"
    assert glossary.method_name("welch_t: Welch's unequal-variance t-test") == "difference of means, Welch t"
    assert glossary.method_name("Kaplan-Meier: a sentence") == "Kaplan-Meier: a sentence"


def test_annotate_leaves_attributes_and_marked_terms_alone() -> None:
    html = '<p title="CUPED">Uses <abbr title="x">CUPED</abbr> then BH and BH.</p><p>Confidence intervals.</p>'
    marked, used = glossary.annotate_with_terms(html)
    assert used == ["Benjamini-Hochberg", "confidence interval"]
    assert 'title="CUPED"' in marked and marked.count('href="#glossary-benjamini-hochberg"') == 1
    assert glossary.annotate(html) == marked
    with pytest.raises(ValueError, match="not in the glossary: nonsense"):
        glossary.glossary_section(["nonsense"])
    assert glossary.glossary_section([]) == ""


def test_a_page_is_nbconverts_html_export_finished_though_parsed_once() -> None:
    """The exporter leaves out nbconvert's last step (a parse to give images a stock alt text and cells a tab
    stop) because :func:`page_parts.finish` does it on its own parse: the page must be the same to the byte,
    with an image of an HTML output without alt text and a code cell shown with its input."""
    from nbconvert import HTMLExporter

    from study.report import export

    bare_png = base64.b64encode(figures._png(_figure())).decode("ascii")
    plt.close("all")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A page\n\n## A section\n\nText."),
        nbformat.v4.new_code_cell("x = 1", outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": bare_png, "text/plain": "<Figure>"}),
            nbformat.v4.new_output("display_data", data={"text/html": f'<img src="data:image/png;base64,{bare_png}">'}),
            nbformat.v4.new_output("stream", name="stdout", text="printed\n")]),
        nbformat.v4.new_markdown_cell("## Another\n\nMore."),
    ], metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    ours = export._exporter()
    theirs = HTMLExporter(template_name="study_report", extra_template_basedirs=[str(export.TEMPLATES)],
                          exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    page = page_parts.finish(ours.from_notebook_node(notebook)[0])
    assert page == page_parts.finish(theirs.from_notebook_node(notebook)[0])
    assert page_parts.NO_ALT in page and 'tabindex="0"' in page
    theirs.exclude_input = ours.exclude_input = False
    try:
        shown = page_parts.finish(ours.from_notebook_node(notebook)[0])
    finally:
        ours.exclude_input = True
    assert shown == page_parts.finish(theirs.from_notebook_node(notebook)[0]) and "jp-Cell-inputWrapper" in shown


def test_a_page_not_of_our_template_is_left_as_it_came() -> None:
    assert page_parts.finish("<html><body><p>CUPED</p></body></html>") == "<html><body><p>CUPED</p></body></html>"


def test_printing_without_a_browser_says_why_for_each_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_program = tmp_path / "chromium"
    not_a_program.write_text("")
    monkeypatch.setenv(pdf.ENVIRONMENT, str(not_a_program))
    assert pdf.find_chromium() is None
    assert pdf.print_pdfs([tmp_path / "a.html"]) == {"a": f"{pdf.ENVIRONMENT}={not_a_program} is not an executable file"}
    monkeypatch.delenv(pdf.ENVIRONMENT)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert pdf.find_chromium() is None
    assert "no Chromium to print with" in pdf.print_pdfs([tmp_path / "a.html"])["a"]
    failing = tmp_path / "fails"
    failing.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    failing.chmod(0o755)
    (tmp_path / "a.html").write_text("<p>x</p>")
    assert pdf.print_pdfs([tmp_path / "a.html"], chromium=failing) == {"a": "a.html: Chromium exited with 3: cannot open display"}
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob(".*.part"))
