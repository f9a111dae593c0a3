"""What a run writes beside its reports once the notebooks are done: results.csv, the PDFs and the index.

PDFs are printed by headless Chromium (:mod:`study.report.pdf`), reports first so that the index can
link to those that were made, then the index itself. A run without a browser still writes every HTML
page; the run facts say why there is no PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from study.report import summary
from study.report.index import AnalysisRun, write_index
from study.report.results_csv import write_results_csv

PDF_CHOICES = ("auto", "yes", "no")


def check_pdf_choice(pdf: str) -> None:
    """Refuse a ``--pdf`` that is not one of :data:`PDF_CHOICES`, or ``yes`` without a browser, before anything runs."""
    if pdf not in PDF_CHOICES:
        raise ValueError(f"--pdf must be one of {', '.join(PDF_CHOICES)}, got {pdf!r}")
    if pdf == "yes":
        from study.report.pdf import find_chromium

        if find_chromium() is None:
            raise ValueError("--pdf yes needs Chromium to print with (install chromium, or set STUDY_CHROMIUM); "
                             "--pdf auto prints when it is there")


def write_run_outputs(staging: Path, runs: list[AnalysisRun], facts: dict, pdf: str,
                      progress: Callable[[str], None]) -> summary.ExecutiveSummary:
    """Write ``results.csv``, the reports' PDFs (``pdf`` ``auto`` or ``yes``) and the index with its PDF.

    Sets each run's ``pdf`` and the ``PDFs`` run fact; returns the executive summary the index shows.
    """
    write_results_csv(staging / "results", staging / "results.csv")
    printed = {}
    if pdf != "no":
        from study.report.pdf import print_pdfs

        pages = [staging / run.html for run in runs if run.html]
        printed = print_pdfs(pages) if pages else {}
        for run in runs:
            made = printed.get(Path(run.html).stem) if run.html else None
            run.pdf = Path(made).name if isinstance(made, Path) else None
        failed = {name: why for name, why in printed.items() if not isinstance(why, Path)}
        for name, why in failed.items():
            progress(f"  no PDF of {name}: {why}")
        facts["PDFs"] = ("one per report and of this page, printed by Chromium" if not failed
                         else f"{len(printed) - len(failed)} of {len(printed)} made; {next(iter(failed.values()))}")
    else:
        facts["PDFs"] = "not made (--pdf no)"
    executive = summary.for_run(staging / "results", runs)
    index = staging / "index.html"
    write_index(index, runs, facts, executive, pdf=pdf != "no")
    if pdf != "no":
        from study.report.pdf import print_pdfs

        made = print_pdfs([index])["index"]
        if not isinstance(made, Path):
            progress(f"  no PDF of the index: {made}")
            write_index(index, runs, facts, executive, pdf=False)  # no link to a file that is not there
    return executive
