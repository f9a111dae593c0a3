"""Run the study: execute the notebooks with papermill, export HTML without code, write the index.

A run is written to a staging folder beside the output folder and moved into place at the end, so
an interrupted run never leaves a half-written report that looks complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from study import config
from study.analyses import REPEAT_MODEL, select
from study.core.results import write_json_atomic
from study.data import column_map, io, schema
from study.data.dataset import load_tickets
from study.data.feedback_map import feedback_section
from study.data.model_features import check_requested
from study.data.readiness import needs_of, skip_reason
from study.engine import check_engine
from study.parameters import FILE_PARAMETERS, split_parameters
from study.report import kernel_provisioner, lifetime, run_outputs, safe_output, truth
from study.report.execute import (
    KERNEL_START_SECONDS,
    SPARE_TIME,
    execute_all,
    in_background,
    worker_start,
)
from study.report.index import AnalysisRun
from study.report.prepare import (
    PREPARED_FILE,
    draw_model_samples,
    draws_samples,
    model_samples,
    driver_reason,
    extract_duckdb,
    prepare_tickets,
)
from study.report.run_outputs import check_pdf_choice, write_run_outputs
from study.report.sentences import findings_markdown

POOL_LOG = "kernel-pool.log"  # what the kernel pool itself printed; removed when empty


@dataclass
class RunSummary:
    """The outcome of :func:`run_study`."""

    out_dir: Path
    runs: list[AnalysisRun]
    seconds: float
    unprinted: list[str] = field(default_factory=list)  # pages `--pdf yes` asked for that could not be printed

    @property
    def failed(self) -> list[AnalysisRun]:
        return [r for r in self.runs if r.status == "failed"]


def run_study(
    data_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    params: dict | None = None,
    only: list[str] | None = None,
    jobs: int | None = None,
    progress: Callable[[str], None] = print,
    columns: str | Path | None = None,
    table: str = "tickets",
    query: str | None = None,
    pdf: str = "no",
    engine: str = "duckdb",
    spark_master: str = "local[2]",
    kernels: kernel_provisioner.Pool | None = None,
) -> RunSummary:
    """Execute every analysis notebook on a data set and write the reports.

    Parameters
    ----------
    data_path : str or Path, optional
        Ticket file; defaults to the embedded sample.
    out_dir : str or Path, optional
        Report folder; defaults to ``reports/latest``. Replaced as a whole at the end of the run.
    params : dict, optional
        Notebook parameters (each notebook receives the ones it declares).
    only : list of str, optional
        Analyses to run, by name or number prefix (``02`` or ``02_satisfaction_drivers``).
    jobs : int, optional
        Notebooks executed at once; defaults to the number of cores.
    table, query : str, optional
        For a DuckDB file: the table to read, or a SQL query to run (read-only). The rows are
        extracted once to Parquet in the report folder, and every notebook reads that extract.
    columns : str or Path, optional
        Column map (YAML). Its ``experiment`` section describes an experiment table for
        ``05_experiment_table``, which runs only with such a map.
    progress : callable
        Receives one line per event.
    pdf : {"no", "auto", "yes"}
        Print each report and the index to PDF with headless Chromium: ``auto`` when a Chromium is
        found (the run facts say why not otherwise), ``yes`` refuses to start without one.
    engine, spark_master : str
        Where the notebooks that aggregate through :mod:`study.engine` run their aggregations:
        ``duckdb`` (in process) or ``spark`` on the master ``spark_master`` (:func:`study.engine.check_engine`).
    kernels : study.report.kernel_provisioner.Pool, optional
        A kernel pool already starting (:func:`study.report.kernel_provisioner.early_pool`: the ``study`` command
        starts it before importing this module), ended here; without it, one is started for small data.

    Returns
    -------
    RunSummary

    Raises
    ------
    study.data.schema.DataError
        When the data cannot be read or breaks the contract (nothing is run).
    ValueError
        For an unknown analysis or parameter.
    """
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    data_path = Path(data_path or config.SAMPLE_DATA).resolve()
    columns = Path(columns).resolve() if columns else None
    try:
        if query and not data_path.name.lower().endswith(io.DUCKDB_SUFFIXES):
            raise ValueError(f"--query reads a DuckDB file ({', '.join(io.DUCKDB_SUFFIXES)}); {data_path.name} is "
                             "not one")
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"--jobs must be a whole number of at least 1, got {jobs!r}")
        check_pdf_choice(pdf)
        check_engine(engine, spark_master)  # Spark without pyspark or Java: refused before anything runs
        kernels = kernels or kernel_provisioner.early_pool(data_path)
        return _checked_run(data_path, out_dir, params, only, jobs, progress, columns, table, query, pdf, engine,
                            spark_master, started, started_at, kernels)
    finally:
        if kernels is not None:  # whatever way the run ended (ending an ended pool does nothing)
            kernels.end()


def _checked_run(data_path, out_dir, params, only, jobs, progress, columns, table, query, pdf, engine, spark_master,
                 started, started_at, kernels):
    """:func:`run_study` once its kernel pool is starting: the checks, the staging folder, the run."""
    analyses = select(only)
    # Parameters and the output folder are checked before the data is read: a typo must not wait
    # for a 10M-row validation, and nothing is written before we know writing destroys nothing.
    per_notebook = split_parameters(dict(params or {}), [a.notebook for a in analyses],
                                    None if engine == "duckdb" else {"engine": engine, "spark_master": spark_master})
    needs = {a.name: needs_of(a, columns, per_notebook.get(a.name, {})) for a in analyses}  # a driver analysis's settings
    files = {k: Path(v) for chosen in per_notebook.values() for k, v in chosen.items() if k in FILE_PARAMETERS and v}
    out_dir = safe_output.check_out_dir(out_dir or config.DEFAULT_REPORTS, [data_path, columns, *files.values()])
    for name, file in files.items():  # a pilot's tickets must be readable tickets, checked before anything runs
        try:
            load_tickets(file)
        except schema.DataError as error:
            raise schema.DataError(f"{name}: {error}") from None
    safe_output.remove_stale_staging(out_dir)
    staging = safe_output.new_staging(out_dir)
    try:
        with lifetime.TerminateAsInterrupt():
            for sub in ("notebooks", "results", "logs"):
                (staging / sub).mkdir()
            return _run_staged(staging, data_path, out_dir, analyses, per_notebook, jobs, progress, columns, table,
                               query, started, started_at, needs, pdf, kernels, (engine, spark_master))
    except BaseException:  # a failed or interrupted run leaves the previous report as it was
        if kernels is not None:
            kernels.stop()
        lifetime.kill_workers()  # no worker or kernel may go on writing into the staging folder
        shutil.rmtree(staging, ignore_errors=True)
        raise


def prepares_in_child(data_path: Path, engine: str) -> bool:
    """Whether the tickets are validated and copied in a separate process rather than in the runner.

    A large table's memory, or the Java process a Spark session starts (whatever the file's size), goes
    back to the system when that process ends, instead of staying with the runner while the notebooks run.
    """
    return engine != "duckdb" or data_path.stat().st_size > config.SMALL_DATA_BYTES


def _run_staged(staging, data_path, out_dir, analyses, per_notebook, jobs, progress, columns, table, query, started,
                started_at, needs, pdf="no", kernels=None, engine=("duckdb", "local[2]")):
    """The body of :func:`run_study`, writing into ``staging`` and swapping it into place at the end.

    ``kernels`` is the run's kernel pool when it was started already; ended here, before the report is written.
    ``engine`` is the run's engine and Spark master: they draw the model samples and count the validation's checks
    (:func:`prepare_tickets`).
    """
    if data_path.name.lower().endswith(io.DUCKDB_SUFFIXES):
        data_path = extract_duckdb(data_path, table, query, staging)
    ticket_map = column_map.read_ticket_map(columns) if columns else None
    if columns:
        feedback_section(columns)  # a malformed theme lexicon stops the run before any notebook starts
    has_experiment = columns is not None and column_map.read_yaml_section(columns, "experiment") is not None
    if has_experiment:
        # The A/B engine imports statsmodels (1.2 s, paid again by every worker): only when a map asks for it.
        from study.ab import experiment_table

        mapping = experiment_table.read_map(columns)
    else:
        mapping = None
    header = io.read_columns(data_path)
    # With only an experiment map, a table without the ticket columns is an experiment table, not a
    # broken ticket file: the ticket analyses are skipped instead of the run being refused.
    ticket_table = ticket_map is not None or mapping is None or all(c in header for c in schema.REQUIRED)
    prepared = None
    if ticket_table and any(a.kind != "experiment" for a in analyses):
        numbers = sorted({c for _, chosen in needs.values() if chosen is not None for c in (chosen.outcome, chosen.driver)})
        arguments = (data_path, columns if ticket_map else None, staging, numbers, *engine)
        if prepares_in_child(data_path, engine[0]):
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=worker_start, initargs=(os.getpid(),))
            try:
                facts = pool.submit(prepare_tickets, *arguments).result()
            finally:  # not waiting: an interrupted run kills the child instead (study.report.lifetime.kill_workers)
                pool.shutdown(wait=False, cancel_futures=True)
        else:
            facts = prepare_tickets(*arguments)
        source, present, arms, prepared, constant = facts.source, facts.present, facts.arms, facts.path, facts.constant
        unreadable, period = facts.unreadable, facts.period
        if per_notebook.get(REPEAT_MODEL, {}).get("features") is not None:  # a feature list refused before any notebook
            try:
                check_requested(per_notebook[REPEAT_MODEL]["features"], io.read_columns(prepared))
            except schema.DataError as error:
                raise schema.DataError(f"{source.name}: parameter features: {error}") from None
    else:
        frame, source = io.load(data_path)
        present, constant, unreadable, period = source.columns, {}, {}, None
        if mapping is not None and any(a.kind == "experiment" for a in analyses) and not mapping.missing(present):
            experiment_table.check_table(frame, mapping, source=source.name)  # e.g. a control arm the data lacks
        del frame

    runs = [AnalysisRun(a.name, a.title) for a in analyses]
    todo = []
    for run, analysis in zip(runs, analyses):
        if analysis.kind == "experiment":
            missing = mapping.missing(present) if mapping else []
            reason = ("needs a column map with an 'experiment' section (--columns)" if mapping is None
                      else f"data has no {', '.join(missing)}" if missing else "")
        elif not ticket_table:
            reason = "not a ticket table (the column map describes an experiment table)"
        elif analysis.kind == "drivers":
            reason = driver_reason(needs[analysis.name][1], present, constant, source.name, unreadable)
        else:
            reason = skip_reason(analysis, present)
            if not reason and "variant" in analysis.needs:
                absent = [arm for arm in ("control", "treatment") if arm not in arms]
                if absent:
                    reason = (f"variant has no {' or '.join(repr(a) for a in absent)} rows (values: "
                              f"{', '.join(map(repr, sorted(arms)[:5]))}); map the arm names with a column map")
        if reason:
            run.status, run.reason = "skipped", reason
        else:
            todo.append(run)
    progress(
        f"study: {len(todo)} of {len(runs)} analyses on {source.name} "
        f"({source.rows:,} rows, fingerprint {source.fingerprint})"
    )
    for run in runs:
        if run.status == "skipped":
            progress(f"  skipped {run.name}: {run.reason}")
    engines = {run.name: per_notebook[run.name]["engine"] for run in todo if "engine" in per_notebook.get(run.name, {})}
    if engines:  # only a run asked for another engine than DuckDB says so: which analyses it reaches
        progress(f"  engine {', '.join(sorted(set(engines.values())))} aggregates for {', '.join(engines)}; "
                 "the other analyses compute in process")

    registered = {a.name: a for a in analyses}
    workers = max(1, min(len(todo), jobs or os.cpu_count() or 1))
    if todo and kernels is None:  # started before the workers: its imports overlap theirs
        kernels = kernel_provisioner.start_pool(staging / "logs" / POOL_LOG)
    samples, warming = [], None
    try:
        if todo:
            notebooks = {r.name: (registered[r.name].notebook, per_notebook.get(r.name, {})) for r in todo}
            drawing = prepared is not None and draws_samples(prepared, list(notebooks.values()))

            def meanwhile():
                nonlocal warming
                if drawing:  # each notebook then reads its sample
                    samples.extend(draw_model_samples(prepared, list(notebooks.values()), engine, progress))
                warming = in_background(run_outputs.warm_up, niceness=SPARE_TIME)  # the index's imports, ahead

            # The draw keeps one core: the first notebooks that take no sample start on the others meanwhile.
            early = [name for name in notebooks if not model_samples([notebooks[name]])] if drawing else []
            execute_all(todo, registered, kernels, staging, data_path, prepared, columns, per_notebook, workers,
                        progress, source.rows, early, meanwhile)
    finally:
        if kernels is not None:
            kernels.stop()  # and with it any kernel still running (an interrupted run)
    pool_log = staging / "logs" / POOL_LOG
    if kernels is not None:
        kernels.keep_log(pool_log)
    if pool_log.is_file() and not pool_log.stat().st_size:
        pool_log.unlink()

    for run in runs:
        if (staging / f"{run.name}.html").is_file():
            run.html = f"{run.name}.html"
        results_file = staging / "results" / f"{run.name}.json"
        if results_file.is_file():
            payload = json.loads(results_file.read_text(encoding="utf-8"))
            run.rows, run.findings_markdown = payload.get("rows", {}), findings_markdown(payload)

    seconds = time.perf_counter() - started
    # Files by their name only: the report does not show where the user keeps them.
    typed = {name: Path(value).name if name in FILE_PARAMETERS else value
             for chosen in per_notebook.values() for name, value in chosen.items()
             if not (name in FILE_PARAMETERS and value is None)}
    facts = {
        "data file": source.name,
        **({"period": period} if period else {}),
        "data fingerprint (SHA-256)": source.fingerprint,
        "rows read": f"{source.rows:,}",
        "columns": ", ".join(source.columns),
        "column map": columns.name if columns else "none",
        "parameters": json.dumps(typed, sort_keys=True) if typed else "defaults of each notebook",
        "started (UTC)": started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "duration": f"{seconds:.1f} s",
        "notebooks at once": workers,
        "package versions": run_outputs.package_versions(),
    }
    if warming is not None:
        warming.join()
    executive, unprinted = write_run_outputs(staging, runs, facts, pdf, progress)
    for copy in (PREPARED_FILE, truth.TRUTH_FILE, *samples):
        (staging / "data" / copy).unlink(missing_ok=True)
    if (staging / "data").is_dir() and not any((staging / "data").iterdir()):
        (staging / "data").rmdir()
    # run.json names every file of the report: the proof a later run needs before it replaces the folder.
    written = [f for f in safe_output.files_of(staging) if f != safe_output.STAGING_MARK]
    write_json_atomic(
        staging / "run.json",
        {"facts": facts, "analyses": [{k: v for k, v in asdict(r).items() if k != "findings_markdown"} for r in runs],
         "summary": executive.to_dict(), safe_output.REPORT_MARK: {"files": sorted([*written, "run.json"])}},
    )
    safe_output.replace(staging, out_dir)
    progress(f"study: reports in {out_dir} ({seconds:.1f} s)"
             + (f"; FAILED: {', '.join(r.name for r in runs if r.status == 'failed')}"
                if any(r.status == "failed" for r in runs) else ""))
    return RunSummary(out_dir, runs, seconds, unprinted if pdf == "yes" else [])


def refresh_notebooks(names: list[str] | None = None, progress: Callable[[str], None] = print) -> None:
    """Re-execute the committed notebooks in place with their default parameters.

    Run after changing a notebook or the package, so the outputs nbval compares against are current.
    Papermill's timing metadata is removed so that a re-run changes only what really changed.
    """
    import nbformat
    import papermill

    for analysis in select(names):
        path = analysis.notebook
        started = time.perf_counter()
        papermill.execute_notebook(str(path), str(path), cwd=str(config.NOTEBOOKS), progress_bar=False,
                                   start_timeout=KERNEL_START_SECONDS)
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata.pop("papermill", None)
        for cell in notebook.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nbformat.write(notebook, path)
        progress(f"  refreshed {path.name} ({time.perf_counter() - started:.1f} s)")
