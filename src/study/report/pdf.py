"""A PDF of each page, printed by headless Chromium: what a reader who prints the page gets, on A4."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ENVIRONMENT = "STUDY_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120.0  # seconds for one page; a large report prints in a few
AT_ONCE = 2
# A closed network otherwise fills the log with refused connections to Google services.
FLAGS = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--no-pdf-header-footer", "--print-to-pdf-no-header",  # the second for Chromium before 120
         "--run-all-compositor-stages-before-draw"]


def find_chromium() -> Path | None:
    """The Chromium to print with: ``$STUDY_CHROMIUM``, else chromium, chromium-browser or google-chrome on PATH.

    Returns
    -------
    pathlib.Path or None
        None when there is none (or ``$STUDY_CHROMIUM`` names no executable file).
    """
    named = os.environ.get(ENVIRONMENT)
    if named:
        path = Path(named)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def print_pdfs(html_files: list[Path], chromium: Path | None = None, timeout: float = TIMEOUT) -> dict[str, Path | str]:
    """Print each HTML page to a PDF beside it (same name, ``.pdf``), A4, without header or footer.

    Parameters
    ----------
    html_files : list of pathlib.Path
        Pages to print; each PDF is written next to its page.
    chromium : pathlib.Path, optional
        The browser; :func:`find_chromium` when not given.
    timeout : float
        Seconds allowed for one page.

    Returns
    -------
    dict
        Page name (file stem) -> the PDF's path, or a one-line reason it was not made.
    """
    browser = chromium or find_chromium()
    if browser is None:
        reason = (f"no Chromium to print with (set {ENVIRONMENT}, or install chromium)" if not os.environ.get(ENVIRONMENT)
                  else f"{ENVIRONMENT}={os.environ[ENVIRONMENT]} is not an executable file")
        return {Path(h).stem: reason for h in html_files}
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        done = pool.map(lambda h: print_pdf(Path(h), browser, timeout), html_files)
        return {Path(h).stem: result for h, result in zip(html_files, done)}


def print_pdf(html_file: Path, chromium: Path, timeout: float = TIMEOUT) -> Path | str:
    """One page to ``<page>.pdf`` beside it; the PDF's path, or a one-line reason it failed."""
    html_file = html_file.resolve()
    if not html_file.is_file():
        return f"{html_file.name}: no such page"
    target = html_file.with_suffix(".pdf")
    flags = [*FLAGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium's sandbox refuses to start as root (containers, CI)
    # A profile of its own: two printers at once, or a browser the user has open, must not share one.
    with tempfile.TemporaryDirectory(prefix="study-pdf-") as profile:
        partial = target.with_name(f".{target.name}.part")
        command = [str(chromium), *flags, f"--user-data-dir={profile}", f"--print-to-pdf={partial}", html_file.as_uri()]
        try:
            # A session of its own, so that a browser that hangs is ended with every process it started.
            browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       start_new_session=True)
        except OSError as error:
            return f"{html_file.name}: Chromium did not start ({error.strerror or error})"
        try:
            _, stderr = browser.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end_session(browser)
            partial.unlink(missing_ok=True)
            return f"{html_file.name}: Chromium did not finish printing within {timeout:g} s"
        finished = subprocess.CompletedProcess(command, browser.returncode, "", stderr)
        if finished.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
            last = next((line for line in reversed(finished.stderr.splitlines()) if line.strip()), "no message")
            return f"{html_file.name}: Chromium exited with {finished.returncode}: {last.strip()[:160]}"
        partial.replace(target)  # a reader never opens half a PDF
    return target


def _end_session(process: subprocess.Popen) -> None:
    """Kill a browser and every process of its session (renderers, zygote), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.communicate()
