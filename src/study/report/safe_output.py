"""Where a run may write: a new or empty folder, or one that provably holds an earlier report of ours.

``study run --out DIR`` replaces DIR with the new report. Replacing means deleting, so the runner
only ever replaces a folder when it can prove that everything in it was written by an earlier run:
``run.json`` names every file the run wrote (:data:`REPORT_MARK`), and nothing else may be there.
A user's notes dropped into the folder, a JupyterLab checkpoint, the data itself: any of them
makes the folder not ours, and the run stops before it has read a single row.

Some folders are never replaced whatever they hold: a filesystem root, the home folder, the
current folder and its parents, the folders holding the input files, and the project itself.

Staging folders are made beside the target with a name no user file has (``.NAME.partial-XXXX``)
and a marker naming the process that made them, so a later run can remove the leftovers of a run
that was killed, and only those.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from study import config

REPORT_MARK = "study report"  # key of run.json that lists the files a run wrote
STAGING_MARK = ".study-staging"  # file inside a staging folder: the pid of the run that made it
# Reports written before run.json listed its files: accepted when every file has a name such a
# run wrote (the layout below) and run.json carries that run's facts.
_LEGACY_LAYOUT = re.compile(
    r"(index\.html|run\.json|\d\d_\w+\.html|notebooks/\d\d_\w+\.ipynb|results/\d\d_\w+\.json"
    r"|logs/\d\d_\w+\.log|data/[^/]+\.parquet)"
)


class OutputError(ValueError):
    """The output folder cannot be used; the message says why and what to do instead."""


def files_of(folder: Path) -> list[str]:
    """Every file under ``folder`` as a sorted list of ``/``-separated relative paths.

    Symbolic links count as files (and are never followed), so a link to a user's folder is a
    file we did not write; an empty folder counts as ``name/``, so one a user made is not removed
    with the report around it.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        links = [d for d in dirs if (Path(root) / d).is_symlink()]
        dirs[:] = [d for d in dirs if d not in links]
        found += [(base / name).as_posix() for name in [*files, *links]]
        if not (files or dirs or links) and base != Path("."):
            found.append(f"{base.as_posix()}/")
    return sorted(found)


def report_files(folder: Path) -> list[str] | None:
    """The files an earlier run says it wrote in ``folder``, or ``None`` if it holds no report of ours."""
    try:
        facts = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict):
        return None
    listed = facts.get(REPORT_MARK)
    if isinstance(listed, dict) and isinstance(listed.get("files"), list):
        return [str(f) for f in listed["files"]]
    if isinstance(facts.get("facts"), dict) and "data fingerprint (SHA-256)" in facts["facts"]:
        present = files_of(folder)
        return present if all(_LEGACY_LAYOUT.fullmatch(f) for f in present) else None
    return None


def strays(folder: Path) -> list[str] | None:
    """Files in ``folder`` that no earlier run of ours wrote (``None``: it holds no report of ours)."""
    listed = report_files(folder)
    if listed is None:
        return None
    return sorted(set(files_of(folder)) - set(listed))


def _protected(out: Path, inputs: list[Path]) -> str | None:
    """Why ``out`` may never be replaced, or ``None``."""
    cwd = Path.cwd().resolve()
    if out.parent == out:
        return "is a filesystem root"
    if out == Path.home().resolve():
        return "is your home folder"
    if out == cwd or out in cwd.parents:
        return "is the current folder" if out == cwd else "holds the current folder"
    for given in inputs:
        if out == given or out in given.parents:
            return f"holds the input {given.name}"
    for ours in (config.ROOT, config.NOTEBOOKS, config.DATA):
        if out == ours or out in ours.parents:
            return "holds the study's own files"
    return None


def check_out_dir(out: str | Path, inputs: list[str | Path] = ()) -> Path:
    """The absolute output folder, after proving that writing it destroys nothing of the user's.

    Parameters
    ----------
    out : str or Path
        The folder the report is to replace or create.
    inputs : list of str or Path
        Files the run reads (data, column map): the folder must not hold them.

    Returns
    -------
    Path
        ``out`` made absolute (symbolic links in its parents resolved).

    Raises
    ------
    OutputError
        One line saying why the folder cannot be used and what to do instead.
    """
    given = Path(out)
    if given.is_symlink():
        raise OutputError(f"--out {out}: is a symbolic link; give the folder itself or a new folder")
    out = Path(os.path.abspath(given))
    out = out.parent.resolve() / out.name if out.parent != out else out
    resolved_inputs = [Path(i).resolve() for i in inputs if i]
    why = _protected(out, resolved_inputs)
    if why:
        raise OutputError(f"--out {given}: {why} and is never replaced; give a new or empty folder, e.g. --out {out / 'report'}"
                          if out.parent != out else f"--out {given}: {why}; give a new or empty folder")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if ancestor != out and not ancestor.is_dir():
        raise OutputError(f"--out {given}: {ancestor.name} is a file, not a folder; give a folder path")
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out {given}: is a file; reports go in a folder: give a new or empty folder")
        if any(out.iterdir()):
            extra = strays(out)
            if extra is None:
                raise OutputError(f"--out {given}: the folder holds files that are not a study report and would be "
                                  "replaced; give a new or empty folder")
            if extra:
                raise OutputError(f"--out {given}: the earlier report there now holds files the study did not write "
                                  f"({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}); move them out or give "
                                  "a new or empty folder")
    writable_parent = out.parent if out.parent.exists() else ancestor
    if not os.access(writable_parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {given}: cannot write in {writable_parent}; give a folder you may write to")
    return out


def new_staging(out: Path) -> Path:
    """A new, uniquely named staging folder beside ``out``, marked as made by this process."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as error:
        raise OutputError(f"--out {out}: cannot write in {out.parent} ({error.strerror}); "
                          "give a folder you may write to") from None
    # mkdtemp makes it private (0700); the report it becomes is for sharing, as a folder mkdir would make.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    (staging / STAGING_MARK).write_text(str(os.getpid()), encoding="utf-8")
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove staging folders beside ``out`` left by runs that were killed; return what was removed.

    A folder is removed only when its marker proves it was a staging folder of ours and the process
    named in it is gone. Anything else with a similar name is left alone.
    """
    removed = []
    if not out.parent.is_dir():
        return removed
    for candidate in out.parent.glob(f".{glob_escape(out.name)}.partial-*"):
        marker = candidate / STAGING_MARK
        if candidate.is_symlink() or not marker.is_file():
            continue
        try:
            pid = int(marker.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def replace(staging: Path, out: Path) -> None:
    """Swap a finished staging folder into place; the previous report lives until the swap.

    The previous report is checked again just before it is removed, in case the user put a file
    into it while the run went on; then the run stops and keeps both.
    """
    if out.exists() and any(out.iterdir()):
        extra = strays(out)
        if extra is None or extra:
            raise OutputError(f"--out {out}: files the study did not write appeared there during the run "
                              f"({', '.join((extra or ['?'])[:3])}); nothing was replaced, run again with a new folder")
    (staging / STAGING_MARK).unlink(missing_ok=True)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old / "report")
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
