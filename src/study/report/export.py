"""Executed notebooks to what a reader opens: one self-contained HTML file without code, and the Findings."""

from __future__ import annotations

import functools
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"


def export_html(executed: Path, html_path: Path) -> Path:
    """Export an executed notebook to one self-contained HTML file without code or warnings.

    Code cells' inputs and prompts are left out, and stderr output (warnings) is dropped; error
    outputs stay, so a failed analysis shows where it failed. The template loads nothing from the
    network. The page gets a link back to the index, its contents, its technical appendix collapsed and
    a glossary of the terms it uses (:func:`study.report.page_parts.finish`); figures carry their alt text
    and a phone-sized copy (:mod:`study.report.figures`). Tables arrive with their columns classed ``num``, ``text`` or ``prose`` by
    :func:`study.report.display.show`; the template's stylesheet keeps numbers on one line and gives
    text the room to wrap readably on a phone.
    """
    import nbformat

    from study.report import page_parts

    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    title = _title(notebook) or executed.stem
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": title}})
    html_path.write_text(page_parts.finish(body), encoding="utf-8")
    return html_path


@functools.cache
def _exporter():
    """One exporter per process: it compiles its templates once, where a new one per page compiled them again
    (about a third of a page's export time). The notebook is validated once, after nbconvert's preprocessors,
    instead of after each of them."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        """nbconvert's HTML export without its last step, which parses the page with BeautifulSoup to give images
        a stock alt text and cells a tab stop, and prints it again: :func:`study.report.page_parts.finish` parses
        the page anyway and does the same, so a page is parsed once instead of twice."""

        def from_notebook_node(self, nb, resources=None, **kw):
            language = nb.metadata.get("language_info", {})
            lexer = language.get("pygments_lexer", language.get("name", None))
            resources = self._init_resources(resources)
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter(template_name="study_report", extra_template_basedirs=[str(TEMPLATES)],
                          exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                          optimistic_validation=True)


@functools.cache
def warm_up() -> None:
    """Export a small page once, in this process: the first export imports nbconvert and BeautifulSoup and
    compiles the templates and the Markdown parser (1.8 s). A worker does it while its first notebook runs,
    instead of between two notebooks."""
    import nbformat

    from study.report import page_parts

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Warm-up\n\n## A section\n\nA *paragraph* with `code` and a [link](#a-section)."),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "1"})]),
    ])
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": "warm-up"}})
    page_parts.finish(body)


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return ""
