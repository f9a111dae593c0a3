"""Executed notebooks to what a reader opens: one self-contained HTML file without code, and the Findings."""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"


def export_html(executed: Path, html_path: Path) -> Path:
    """Export an executed notebook to one self-contained HTML file without code or warnings.

    Code cells' inputs and prompts are left out, and stderr output (warnings) is dropped; error
    outputs stay, so a failed analysis shows where it failed. The template loads nothing from the
    network. Each column of a pandas table is classed ``num`` (numbers, intervals, p-values) or
    ``text`` / ``prose`` (long text) so that the template's stylesheet can keep numbers on one line and
    give text the room to wrap readably on a phone.
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            for output in cell.outputs:
                if isinstance(output.get("data", {}).get("text/html"), str):
                    output.data["text/html"] = re.sub(r"<table[^>]*>.*?</table>", lambda t: class_table_columns(t.group(0)),
                                                      output.data["text/html"], flags=re.DOTALL)
    exporter = HTMLExporter(
        template_name="study_report", extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )
    title = _title(notebook) or executed.stem
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    html_path.write_text(body, encoding="utf-8")
    return html_path


# A cell is a number when nothing but digits, signs, separators, "to" (intervals) and units remain.
_NUMBER = re.compile(r"(?:[-+−–—<>≤≥=()%.,\s\d]|to|pp|n/a|nan|inf|(?<=\d)e(?=[-+]?\d))*", re.IGNORECASE)


def _mark(cells: str, tag: str, kinds: list[str], skip: int = 0) -> str:
    """Give the ``<tag>`` cells after the first ``skip`` the classes ``kinds``, in order."""
    seen, marked = itertools.count(), iter(kinds)
    return re.sub(f"<{tag}>", lambda _: f"<{tag}>" if next(seen) < skip else f'<{tag} class="{next(marked)}">', cells)


def class_table_columns(table: str) -> str:
    """A pandas HTML table with each column classed ``num``, ``text`` or ``prose`` (text over 30 characters).

    Only plain tables (bare cells holding text only, the same number in every row) are touched;
    anything else is returned as it is. Column headers take their column's class, unless a header
    spans several columns.
    """
    head, found, body = table.partition("<tbody>")
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    cells = [re.findall(r"<td>([^<]*)</td>", row) for row in rows]
    if not found or not cells or any(len(c) != row.count("<td") or len(c) != len(cells[0]) for c, row in zip(cells, rows)):
        return table
    kinds = []
    for column in zip(*cells):
        filled = [text for text in (html.unescape(c).strip() for c in column) if text]
        if all(_NUMBER.fullmatch(text) for text in filled):
            kinds.append("num")
        else:
            kinds.append("prose" if max(map(len, filled)) > 30 else "text")
    body = re.sub(r"<tr>(.*?)</tr>", lambda row: "<tr>" + _mark(row.group(1), "td", kinds) + "</tr>", body, flags=re.DOTALL)
    header = re.search(r"<thead>\s*<tr[^>]*>(.*?)</tr>", head, re.DOTALL)
    if header and "colspan" not in header.group(1):
        labels = header.group(1).count("<th>")
        if labels == header.group(1).count("<th") and labels > len(kinds):
            head = head[:header.start(1)] + _mark(header.group(1), "th", kinds, labels - len(kinds)) + head[header.end(1):]
    return head + found + body


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return ""
