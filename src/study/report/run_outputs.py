"""What a run writes beside its reports once the notebooks are done: results.csv, the PDFs and the index.

PDFs are printed by headless Chromium (:mod:`study.report.pdf`), reports first so that the index can
link to those that were made, then the index itself. A run without a browser still writes every HTML
page; the run facts say why there is no PDF.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from study.report import summary
from study.report.index import AnalysisRun, index_page, write_index
from study.report.results_csv import write_results_csv

PDF_CHOICES = ("auto", "yes", "no")
PACKAGES = ["study", "pandas", "numpy", "statsmodels", "scipy", "seaborn", "matplotlib", "papermill", "nbconvert"]


def package_versions() -> str:
    """The versions of :data:`PACKAGES` installed, for the run facts: ``"study 0.1.0, pandas 3.1.1, ..."``."""
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def check_pdf_choice(pdf: str) -> None:
    """Refuse a ``--pdf`` that is not one of :data:`PDF_CHOICES`, or ``yes`` without a browser, before anything runs."""
    if pdf not in PDF_CHOICES:
        raise ValueError(f"--pdf must be one of {', '.join(PDF_CHOICES)}, got {pdf!r}")
    if pdf == "yes":
        from study.report.pdf import find_chromium

        if find_chromium() is None:
            raise ValueError("--pdf yes needs Chromium to print with (install chromium, or set STUDY_CHROMIUM); "
                             "--pdf auto prints when it is there")


def warm_up() -> None:
    """Import and use once what the index needs: 0.6 s at the end of a run otherwise, when nothing else is left to
    do. The runner calls it while the notebooks run. It renders the index of a made-up run (the Markdown renderer,
    bleach, BeautifulSoup, the glossary's terms and the compiled template, which is kept) and asks for a critical
    value (scipy's special functions, for the A/B verdicts); it writes nothing."""
    from study.core.inference import critical_value

    critical_value(0.05)
    made_up = AnalysisRun("01_data_overview", "Overview", "ok", findings_markdown="A *warm-up* of the CSAT index: "
                          "**+1.0 pp** (95% CI 0.5 to 1.5) & more.\n\n- one\n- two")
    index_page(Path(__file__).parent / "no-such-run", [made_up], {"data file": "warm-up.csv"},
               summary.summarize({}, [{"name": made_up.name, "title": made_up.title, "status": "ok"}]))


def write_run_outputs(staging: Path, runs: list[AnalysisRun], facts: dict, pdf: str,
                      progress: Callable[[str], None]) -> tuple[summary.ExecutiveSummary, list[str]]:
    """Write ``results.csv``, the reports' PDFs (``pdf`` ``auto`` or ``yes``) and the index with its PDF.

    Sets each run's ``pdf`` and the ``PDFs`` run fact, which says how many pages were printed and, for
    those that were not, why. Returns the executive summary the index shows and the pages that could
    not be printed (each with its reason).
    """
    write_results_csv(staging / "results", staging / "results.csv")
    executive = summary.for_run(staging / "results", runs)
    index = staging / "index.html"
    if pdf == "no":
        facts["PDFs"] = "not made (--pdf no)"
        write_index(index, runs, facts, executive)
        return executive, []
    from study.report.pdf import print_pdfs

    pages = [staging / run.html for run in runs if run.html]
    progress(f"  printing {len(pages) + 1} pages to PDF")
    started = time.perf_counter()
    printed = print_pdfs(pages) if pages else {}
    for run in runs:
        made = printed.get(Path(run.html).stem) if run.html else None
        run.pdf = Path(made).name if isinstance(made, Path) else None
    # The index is written as if its own printing will succeed (so its PDF says so), printed, and written
    # again with the facts corrected and without the link if it did not.
    _pdf_fact(facts, {**printed, "index": index})
    write_index(index, runs, facts, executive, pdf=True)
    printed["index"] = print_pdfs([index])["index"]
    failed = _pdf_fact(facts, printed)
    if not isinstance(printed["index"], Path):
        write_index(index, runs, facts, executive, pdf=False)
    made = len(printed) - len(failed)
    for problem in failed:
        progress(f"  no PDF of {problem}")
    progress(f"  {made} of {len(printed)} pages printed to PDF ({time.perf_counter() - started:.1f} s)")
    return executive, failed


def _pdf_fact(facts: dict, printed: dict) -> list[str]:
    """Set the ``PDFs`` run fact from what was printed; return each page not printed, with its reason."""
    failed = [str(why) if str(why).startswith(f"{name}.html") else f"{name}: {why}"
              for name, why in printed.items() if not isinstance(why, Path)]
    made = len(printed) - len(failed)
    facts["PDFs"] = f"{made} of {len(printed)} pages printed by Chromium" + (f"; not printed: {failed[0]}" if failed else "")
    return failed
