"""The parts of a report page around the analysis: the way back to the index, the contents, the collapsed
technical appendix and the glossary.

nbconvert renders every cell in order; :func:`finish` then works on the whole page, because a section (an
appendix) spans several cells and the contents list every heading of the page.
"""

from __future__ import annotations

from typing import Any

from study.core.findings import section_anchor
from study.report import glossary

APPENDIX = "Appendix:"
INDEX = "index.html"
BACK = "← All reports"


def finish(page: str) -> str:
    """A report page with its back-link, contents, collapsed appendix sections and glossary.

    Parameters
    ----------
    page : str
        The HTML nbconvert exported with the ``study_report`` template.

    Returns
    -------
    str
        The same page with: a link to ``index.html`` above the title; every ``##`` section whose heading starts
        with "Appendix:" and the cells up to the next ``##`` heading inside a closed ``<details>`` carrying
        the heading's id; each term of art's first use marked and a Glossary section at the end; and a
        contents list of the ``##`` and ``###`` headings after the title's cell.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    main = soup.find("main")
    if main is None:  # not a page of our template; leave it as it came
        return page
    _as_nbconvert_leaves_it(soup)
    _name_headings(main)
    _mark_wide_tables(main)
    _fold_appendices(soup, main)
    used = glossary.mark_terms(main)
    if used:
        main.append(BeautifulSoup(glossary.glossary_section(used), "html.parser"))
    _add_contents(soup, main)
    back = soup.new_tag("p", attrs={"class": "back-link"})
    link = soup.new_tag("a", href=INDEX)
    link.string = BACK
    back.append(link)
    main.insert(0, back)
    return str(soup)


NO_ALT = "No description has been provided for this image"


def _as_nbconvert_leaves_it(soup: Any) -> None:
    """What nbconvert's HTML export does last (:func:`study.report.export._exporter` leaves it out, to parse the page
    once): a stock alt text for an image without one, and a tab stop on every cell's input and output."""
    for image in soup.find_all("img"):
        if not image.has_attr("alt"):
            image["alt"] = NO_ALT
    for notebook in soup.find_all(class_="jp-Notebook"):
        for element in notebook.find_all("div", class_=("jp-Cell-inputWrapper", "jp-OutputArea-output")):
            element["tabindex"] = "0"


WIDE = 9  # columns (row labels included) from which a table prints in smaller type


def _mark_wide_tables(main: Any) -> None:
    """Class tables of many columns ``wide``: printed in smaller type, so A4 holds their last column."""
    for table in main.find_all("table"):
        # A table with several levels of row labels has more cells in a body row than in its header's first row.
        columns = max((sum(int(c.get("colspan", 1) or 1) for c in row.find_all(["th", "td"], recursive=False))
                       for row in table.find_all("tr", limit=6)), default=0)
        if columns >= WIDE:
            table["class"] = [*(table.get("class") or []), "wide"]


def _heading_text(heading: Any) -> str:
    """A heading's words without nbconvert's "¶" anchor link."""
    return " ".join("".join(
        str(s) for s in heading.find_all(string=True) if not (s.parent.name == "a" and "anchor-link" in (s.parent.get("class") or []))
    ).split())


def _name_headings(main: Any) -> None:
    """Give every section heading an id, as nbconvert names Markdown headings (headings in HTML outputs have none)."""
    for heading in main.find_all(["h2", "h3"]):
        if not heading.get("id"):
            heading["id"] = section_anchor(_heading_text(heading))


def _cells(main: Any) -> list:
    return [c for c in main.find_all("div", recursive=False) if "jp-Cell" in (c.get("class") or [])]


def _fold_appendices(soup: Any, main: Any) -> None:
    """Wrap each "## Appendix: …" section (its heading's cell and the cells up to the next ``##``) in a closed ``<details>``."""
    group: list = []
    groups: list[list] = []
    for cell in _cells(main):
        h2 = cell.find("h2")
        if h2 is not None:
            if group:
                groups.append(group)
            group = [cell] if _heading_text(h2).startswith(APPENDIX) else []
        elif group:
            group.append(cell)
    if group:
        groups.append(group)
    for cells in groups:
        heading = cells[0].find("h2")
        details = soup.new_tag("details", id=heading.get("id") or section_anchor(_heading_text(heading)))
        details["class"] = ["appendix"]
        summary = soup.new_tag("summary")
        cells[0].insert_before(details)
        heading.extract()
        del heading["id"]  # the section's id now names the details, so a link to it can open it
        for anchor in heading.find_all("a", class_="anchor-link"):
            anchor.decompose()
        summary.append(heading)
        details.append(summary)
        for cell in cells:
            details.append(cell.extract())


def _add_contents(soup: Any, main: Any) -> None:
    """A "Contents" list of the page's ``##`` and ``###`` sections, after the title's cell."""
    entries = []
    for element in main.find_all(["h2", "h3", "details"]):
        if element.name == "details":
            if "appendix" not in (element.get("class") or []):
                continue
            target, words, level = element["id"], _heading_text(element.find("h2")), 2
        else:
            if element.find_parent("summary") is not None:
                continue
            target, words, level = element["id"], _heading_text(element), int(element.name[1])
        entries.append((target, words, level))
    if len(entries) < 2:
        return
    nav = soup.new_tag("nav", attrs={"class": "toc", "aria-label": "Contents"})
    details = soup.new_tag("details")
    summary = soup.new_tag("summary")
    summary.string = f"Contents ({sum(1 for e in entries if e[2] == 2)} sections)"
    details.append(summary)
    listing = soup.new_tag("ol")
    parent = None  # a ### section is listed under its ## section, unnumbered
    for target, words, level in entries:
        item = soup.new_tag("li", attrs={"class": f"toc-{level}"})
        link = soup.new_tag("a", href=f"#{target}")
        link.string = words
        item.append(link)
        if level == 3 and parent is not None:
            if parent.find("ul") is None:
                parent.append(soup.new_tag("ul"))
            parent.find("ul").append(item)
        else:
            listing.append(item)
            parent = item if level == 2 else None
    details.append(listing)
    nav.append(details)
    title = main.find("h1")
    cell = title.find_parent("div", class_="jp-Cell") if title is not None else None
    if cell is not None and cell.parent is main:
        cell.insert_after(nav)
    else:
        main.insert(0, nav)
