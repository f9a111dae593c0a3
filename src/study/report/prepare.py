"""Before any notebook runs: the tickets validated once, the copy every notebook reads, and what the
runner must know of them (columns present, arms, single-valued driver columns, the period covered)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from study.core.weeks import period_of
from study.data import column_map, driver_columns, io, schema, streamed
from study.data.adoption import adoption_table
from study.data.dataset import load_tickets, write_prepared
from study.data.readiness import DERIVED, only_value
from study.report import truth

PREPARED_FILE = "tickets.prepared.parquet"  # validated once, read by every notebook; removed after the run


@dataclass
class PreparedTickets:
    """What the runner needs to know of the validated tickets, and where their copy is."""

    source: io.Source
    present: list[str]
    arms: set
    path: Path
    constant: dict = field(default_factory=dict)
    unreadable: dict = field(default_factory=dict)
    period: str | None = None


def prepare_tickets(data_path: Path, columns: Path | None, staging: Path, as_numbers: list[str] = (),
                    engine: str = "duckdb", spark_master: str = "local[2]") -> PreparedTickets:
    """Validate the tickets once and write the copy every notebook reads (:func:`study.data.dataset.write_prepared`).

    A simulation's ``truth.json`` is copied beside the copy, where the notebooks look for it. The columns of
    ``as_numbers`` (a driver analysis's outcome and driver) are checked for a single value and for values
    that cannot be read as numbers; the ticket analyses skip such sections themselves. With ``engine="spark"``
    a typed Parquet file of any size is counted on Spark (:mod:`study.data.streamed`).
    """
    kinds = streamed.column_kinds(data_path) if columns is None and io._format(data_path) == "parquet" else None
    if kinds is not None and (engine != "duckdb" or _rows(data_path) >= streamed.STREAM_MIN_ROWS):
        prepared = _prepare_streamed(data_path, kinds, staging, as_numbers, engine, spark_master)
        if prepared is not None:
            return prepared
    data = load_tickets(data_path, columns=columns)
    tickets = data.tickets
    present = [c for c in tickets.columns if tickets[c].notna().any()]
    if "adopted_at" in present:
        try:  # a team that adopted twice is bad data, refused before any notebook starts, like any other
            adoption_table(tickets, "team" if "team" in present else None)
        except schema.DataError as error:
            raise schema.DataError(f"{data.source.name}: {error}") from None
    arms = set(tickets["variant"].dropna().unique()) if "variant" in tickets.columns else set()
    folder = _data_folder(data_path, staging)
    constant, unreadable = _number_checks(tickets, [c for c in as_numbers if c in present])
    return PreparedTickets(data.source, present, arms, write_prepared(data, folder / PREPARED_FILE), constant,
                           unreadable, period_of(tickets["created_at"]) if "created_at" in present else None)


def _rows(path: Path) -> int:
    """Rows of a Parquet file, from its metadata."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _data_folder(data_path: Path, staging: Path) -> Path:
    """The run's data folder, with a simulation's truth copied into it."""
    folder = staging / "data"
    folder.mkdir(exist_ok=True)
    truth_file = data_path.parent / truth.TRUTH_FILE
    if truth_file.is_file():
        shutil.copyfile(truth_file, folder / truth.TRUTH_FILE)
    return folder


def _number_checks(tickets, checked: list[str]) -> tuple[dict, dict]:
    """Columns of ``checked`` with a single value, and those whose values cannot be read as numbers."""
    constant = {c: value for c in checked if (value := only_value(tickets[c])) is not None}
    unreadable = {}
    for column in checked:
        try:
            driver_columns.as_numbers(tickets[column], column)
        except schema.DataError as error:
            unreadable[column] = str(error)
    return constant, unreadable


def _prepare_streamed(data_path: Path, kinds: dict, staging: Path, as_numbers: list[str], engine: str = "duckdb",
                      spark_master: str = "local[2]") -> PreparedTickets | None:
    """:func:`prepare_tickets` for a typed Parquet file, or ``None`` when its checks find a problem.

    The checks' scan (:func:`study.data.streamed.clean_counts`, on the engine) runs while the copy
    is written a row group at a time (:func:`study.data.streamed.write_streamed`); a copy of a file the
    checks refuse is deleted and the pandas path says what is wrong. What the runner must know is then
    read back from the copy column by column, so no step holds every column of every ticket at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    source = io.Source(data_path.name, io.fingerprint(data_path), _rows(data_path), list(kinds))
    folder = _data_folder(data_path, staging)
    path = folder / PREPARED_FILE
    with ThreadPoolExecutor(max_workers=1) as pool:
        checks = pool.submit(streamed.clean_counts, data_path, kinds, streamed.counting_source(data_path, engine, spark_master))
        try:
            notes = streamed.unit_notes(data_path, kinds, streamed.counting_source(data_path, engine, spark_master))
            streamed.write_streamed(data_path, path, kinds, source, notes)
            failure = None
        except Exception as error:  # values the checks refuse can break the copy too: the checks decide below
            failure = error
        counts = checks.result()
    if counts is None or not counts["clean"]:
        path.unlink(missing_ok=True)
        return None
    if failure is not None:
        raise failure

    def read(*wanted: str):
        return load_tickets(path, needed=list(wanted)).tickets

    present, arms = streamed.present_columns(streamed.counting_source(path, engine, spark_master))
    if "adopted_at" in present:
        try:
            adoption_table(read("team", "adopted_at"), "team" if "team" in present else None)
        except schema.DataError as error:
            raise schema.DataError(f"{source.name}: {error}") from None
    checked = [c for c in as_numbers if c in present]
    constant, unreadable = _number_checks(read(*checked), checked) if checked else ({}, {})
    period = period_of(read("created_at")["created_at"]) if "created_at" in present else None
    return PreparedTickets(source, present, arms, path, constant, unreadable, period)


def model_samples(notebooks: list[tuple[Path, dict]]) -> list[tuple[int, int]]:
    """The distinct ``(model_tickets, seed)`` that the notebooks taking a model sample will load with.

    Parameters
    ----------
    notebooks : list of (Path, dict)
        Each notebook to run and the parameters the run gives it; one that does not declare
        ``model_tickets`` takes no sample, and a parameter not given is the notebook's default.
    """
    from study.parameters import declared_parameters

    pairs = set()
    for notebook, chosen in notebooks:
        declared = declared_parameters(notebook)
        if "model_tickets" not in declared:
            continue
        given = {name: chosen[name] if name in chosen else int(declared[name]["default"])
                 for name in ("model_tickets", "seed") if name in chosen or name in declared}
        pairs.add((int(given["model_tickets"]), int(given.get("seed", 2026))))
    return sorted(pairs)


def draws_samples(prepared: Path, notebooks: list[tuple[Path, dict]]) -> bool:
    """Whether :func:`draw_model_samples` has a sample to draw for ``notebooks``: one that leaves tickets of ``prepared`` out."""
    return bool(_leaving_tickets_out(prepared, model_samples(notebooks)))


def _leaving_tickets_out(copy: Path, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ``(model_tickets, seed)`` of ``pairs`` whose sample leaves tickets of ``copy`` out (the others are the copy)."""
    rows = _rows(copy)
    return [(tickets, seed) for tickets, seed in pairs if tickets and rows > tickets]


def write_model_samples(copy: Path, pairs: list[tuple[int, int]], engine: str = "duckdb",
                        spark_master: str = "local[2]") -> list[dict]:
    """Draw each model sample of ``pairs`` that leaves tickets out, on the run's engine, and write it beside the copy.

    Every notebook asking for a sample then reads its file (:func:`study.data.model_sample.write_sample`)
    instead of counting every customer of the copy again.

    Returns
    -------
    list of dict
        The facts of each sample written, with ``seconds`` (its draw and writing).
    """
    import time

    from study.data import model_sample
    from study.engine import open_source

    wanted = _leaving_tickets_out(copy, pairs)
    if not wanted:
        return []
    source = open_source(copy, engine, spark_master) if engine != "duckdb" else None  # DuckDB: one in this process
    written = []
    try:
        for tickets, seed in wanted:
            started = time.perf_counter()
            facts = model_sample.write_sample(copy, tickets, seed, source)
            written.append({**facts, "seconds": time.perf_counter() - started})
    finally:
        if source is not None:
            source.close()
    return written



def driver_reason(chosen, present: list[str], constant: dict, source: str, unreadable: dict | None = None) -> str:
    """Why the driver analysis cannot run with these settings (``""`` when it can).

    A column the user named (a parameter, the column map's ``drivers`` section) that the data lacks stops
    the run before any notebook starts, with the nearest column; the default question (CSAT on the first
    response time) is skipped with the reason when the data cannot answer it.

    Raises
    ------
    study.data.schema.DataError
    """
    roles = {chosen.outcome: "outcome", chosen.driver: "driver", **{c: "control" for c in chosen.controls or ()}}
    if chosen.cluster and not chosen.cluster_default:
        roles[chosen.cluster] = "cluster"
    absent = [c for c in chosen.needed if c not in present]
    named = [c for c in absent if chosen.sources.get({"control": "controls"}.get(roles[c], roles[c])) in
             ("parameter", "column map")]
    if named:
        column = named[0]
        close = column_map.nearest(column, [c for c in present if c not in roles])
        where = chosen.sources.get({"control": "controls"}.get(roles[column], roles[column]))
        raise schema.DataError(
            f"{source}: the driver analysis's {roles[column]} {column!r} ({'--param' if where == 'parameter' else 'the column map'})"
            f" is not a column of the data" + (f" (did you mean {close!r}?)" if close else ""))
    if absent:
        absent = [DERIVED.get(c, c) for c in absent]  # the column the user would have to supply
        return (f"data has no {', '.join(dict.fromkeys(absent))} (name the outcome and driver in the column map's drivers "
                "section, or with --param outcome=... --param driver=...)")
    for column in (chosen.outcome, chosen.driver):
        if column in (unreadable or {}):  # text that is neither numbers nor yes/no: said before any notebook runs
            raise schema.DataError(f"{source}: the driver analysis's {roles[column]}: {unreadable[column]}")
    flat = [c for c in (chosen.outcome, chosen.driver) if c in constant]
    return "; ".join(f"{c} has one value ({constant[c]}) in every row" for c in flat)


def extract_duckdb(path: Path, table: str, query: str | None, staging: Path) -> Path:
    """Rows of a DuckDB table or query as Parquet in the report folder, named after their origin."""
    frame, _ = io.load(path, table=table, query=query)
    (staging / "data").mkdir(exist_ok=True)
    extract = staging / "data" / f"{path.stem}-{'query' if query else table}.parquet"
    frame.to_parquet(extract, index=False)
    return extract


def draw_model_samples(prepared: Path, notebooks: list, engine: tuple[str, str],
                       progress: Callable[[str], None]) -> list[str]:
    """Draw the model samples the notebooks ask for once, on the run's engine, beside the copy; their file names.

    ``notebooks`` are the notebooks to run with their parameters (:func:`model_samples`); ``engine`` the
    run's engine and Spark master; ``progress`` receives a line per sample.

    On Spark the draw runs in a separate process: the Java process its session starts ends with it,
    instead of staying beside the notebooks' kernels for the whole run.
    """
    pairs = model_samples(notebooks)
    if not pairs:
        return []
    try:
        written = _write_model_samples(prepared, pairs, engine)
    except Exception as error:  # noqa: BLE001 - the file only saves time: each notebook draws the same sample itself
        for left in prepared.parent.glob(f"{prepared.stem}.model-sample-*"):
            left.unlink(missing_ok=True)
        progress(f"  model sample not drawn once ({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}); "
                 "each model notebook draws the same sample itself")
        return []
    for facts in written:
        progress(f"  model sample: {facts['tickets']:,} of {facts['copy_rows']:,} tickets "
                 f"({facts['customers']:,} customers, at most {facts['max_tickets']:,}, seed {facts['seed']}) drawn once on {engine[0]} "
                 f"({facts['seconds']:.1f} s)")
    return [facts["file"] for facts in written]


def _write_model_samples(prepared: Path, pairs: list, engine: tuple[str, str]) -> list[dict]:
    """:func:`write_model_samples` in this process on DuckDB, in a separate one on Spark."""
    if engine[0] == "duckdb":
        return write_model_samples(prepared, pairs, *engine)
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from study.report.execute import worker_start

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_start, initargs=(os.getpid(),))
    try:
        return pool.submit(write_model_samples, prepared, pairs, *engine).result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
