"""The ``study`` command: parse, call, print."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from study.data.scenarios import PRESETS
from study.parameters import parse_pairs


def say(line: str) -> None:
    """Print a progress line; a reader that went away (``study run | head -1``) does not stop the run.

    After a broken pipe, standard output is pointed at the null device, so the run finishes and its
    report is written; only the lines nobody reads are lost.
    """
    try:
        print(line, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# The handlers import what they need when called: `study --help` and `study validate` must not pay
# for papermill, nbconvert and the analyses.
def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from study import config
    from study.report import kernel_provisioner

    # The kernel pool's imports (2 s) open a run on small data: begun before the runner's own (0.4 s), which
    # would otherwise delay every notebook's first cell.
    kernels = kernel_provisioner.early_pool(Path(args.data or config.SAMPLE_DATA))
    from study.report import execute

    execute.start_worker_server()  # likewise the workers' server (0.9 s)
    try:
        from study.report.runner import run_study

        summary = run_study(
            data_path=args.data, out_dir=args.out, params=parse_pairs(args.param),
            only=[name for group in args.only for name in group.split(",") if name] or None, jobs=args.jobs,
            columns=args.columns, table=args.table, query=args.query, progress=say, pdf=args.pdf,
            engine=args.engine, spark_master=args.spark_master, kernels=kernels,
        )
    finally:
        if kernels is not None:
            kernels.end()
    if summary.unprinted:  # --pdf yes promised PDFs
        say(f"study: --pdf yes, but {len(summary.unprinted)} page(s) could not be printed (see above)")
    return 1 if summary.failed or summary.unprinted else 0


def _simulate(args: argparse.Namespace) -> int:
    from study.data import simulate, simulate_blocks

    if args.rollout:
        from study.data.rollout import simulate_rollout

        if args.scenario != "default":
            raise SystemExit("study simulate: --rollout draws its own process; leave out --scenario")
        data_file, truth_file = simulate.write(simulate_rollout(rows=args.rows, seed=args.seed), args.out)
    else:  # in blocks above a million tickets, so memory stays bounded at any size
        data_file, truth_file = simulate_blocks.write_simulation(args.out, rows=args.rows, seed=args.seed,
                                                                 scenario=args.scenario)
    scenario = " of a staggered rollout" if args.rollout else "" if args.scenario == "default" else f" (scenario {args.scenario})"
    say(f"study: wrote {args.rows:,} tickets{scenario} to {data_file} and the true effects to {truth_file}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from study.data.dataset import read_export
    from study.data.feedback_map import feedback_section
    from study.data.schema import validation_report
    from study.report.validate_advice import advice, experiment_table_lines, with_hints

    if args.columns:  # refused here as study run refuses it: before anything is read
        feedback_section(args.columns)
    export = read_export(args.data, table=args.table, columns=args.columns, query=args.query)
    frame, source, mapped_from = export.frame, export.source, export.mapped_from
    say(f"{source.name}: {source.rows:,} rows, fingerprint {source.fingerprint}")
    experiment = experiment_table_lines(frame, source, args.columns)
    if experiment is not None:  # an experiment table, as `study run` reads it: only the experiment analysis
        for line in experiment:
            say(line)
        say(f"{source.name}: fits the column map's experiment section")
        return 0
    report, blocking = validation_report(frame, mapped_from, notes=export.notes)
    say(report.to_string())
    for reason, rows in export.set_aside.items():  # the rows every analysis will count as left out
        say(f"set aside: {rows:,} rows {reason}")
    for line in advice(frame, report, source, mapped_from, args.columns, args.data):
        say(line)
    if blocking:
        blocking = with_hints(blocking, frame, mapped_from, args.columns)
        print(f"study: error: {source.name} cannot be analysed: " + "; ".join(blocking), file=sys.stderr)
        return 2
    say(f"{source.name}: meets the data contract")
    return 0


def _map(args: argparse.Namespace) -> int:
    from pathlib import Path

    from study.data import io
    from study.data.draft_map import draft
    from study.data.draft_yaml import render, summary
    from study.data.schema import DataError

    out = Path(args.out) if args.out else None
    if out is not None and (out.exists() or out.is_symlink()):  # checked before the data is read: a large file takes time
        raise DataError(f"{out} exists; choose another name or delete it")
    frame, source = io.load(args.data, table=args.table, query=args.query)
    result = draft(frame)
    text = render(result, args.data, source.rows, args.out)
    lines = [f"{source.name}: {source.rows:,} rows, {len(source.columns)} columns", *summary(result)]
    if out is None:
        # Printed as comments above the map, so that `study map --data x > map.yml` still writes valid YAML.
        for line in lines:
            say(f"# {line}".rstrip())
        say(text.rstrip("\n"))
        return 0
    for line in lines:
        say(line)
    try:
        with open(out, "x", encoding="utf-8") as handle:  # "x": never replaces a file that appeared meanwhile
            handle.write(text)
    except FileExistsError:
        raise DataError(f"{out} exists; choose another name or delete it") from None
    say(f"study: wrote {out}; edit it, then: study validate --data {args.data} --columns {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from study.report.compare import compare_runs

    folder, headline = compare_runs(args.run_a, args.run_b, args.out)
    say(f"study: {headline}")
    say(f"study: comparison in {folder / 'compare.html'} (rows also in compare.csv)")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from study.report.runner import refresh_notebooks

    refresh_notebooks([name for group in args.only for name in group.split(",") if name] or None, progress=say)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="study", description="Service speed, satisfaction and repeat purchase: run the study, simulate data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute every analysis notebook and write the HTML reports")
    run.add_argument("--data", help="ticket file: CSV, Parquet or DuckDB (default: the embedded sample)")
    run.add_argument("--out", help="report folder (default: reports/latest)")
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="notebook parameter, e.g. alpha=0.1 (repeatable)")
    run.add_argument("--only", action="append", default=[], metavar="NAME",
                     help="run only these analyses, e.g. 02 or 04_ab_test (repeatable or comma-separated)")
    run.add_argument("--jobs", type=int, help="notebooks executed at once (default: number of cores)")
    run.add_argument("--table", default="tickets", help="table to read from a DuckDB file (default: tickets)")
    run.add_argument("--query", help="SQL query to run on a DuckDB file instead of reading a table (read-only)")
    run.add_argument("--pdf", default=os.environ.get("STUDY_PDF", "auto"), metavar="auto|yes|no",
                     help="print each report and the index to PDF with headless Chromium: auto (default; when "
                          "Chromium is found), yes (refuse to start without it) or no; STUDY_PDF sets the default")
    run.add_argument("--columns", metavar="MAP.yml",
                     help="column map: its 'tickets' section maps an export onto the data contract, its "
                          "'experiment' section describes an experiment table (see data/examples/)")
    run.add_argument("--engine", default="duckdb", metavar="duckdb|spark",
                     help="where the aggregations run: duckdb (default, in this process) or spark (Apache Spark; "
                          "pip install -e '.[spark]' and Java 17+)")
    run.add_argument("--spark-master", default="local[2]", metavar="URL",
                     help="Spark master for --engine spark: local[N] (default local[2]), spark://host:port, yarn, "
                          "or sc://host:port for Spark Connect; the cluster must be able to read the report folder")
    run.set_defaults(handler=_run)

    simulate = commands.add_parser("simulate", help="write simulated tickets and their truth.json")
    simulate.add_argument("--rows", type=int, default=40_000, help="number of tickets (default 40000)")
    simulate.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    simulate.add_argument("--out", required=True, help="data file to write (.parquet or .csv)")
    simulate.add_argument("--scenario", default="default", choices=list(PRESETS),
                          help="the default process, or one that breaks an assumption (see data/README.md)")
    simulate.add_argument("--rollout", action="store_true",
                          help="a staggered rollout of the faster-response SLA across teams (team, adopted_at), for 07")
    simulate.set_defaults(handler=_simulate)

    validate = commands.add_parser("validate", help="check a data file against the data contract")
    validate.add_argument("--data", required=True, help="ticket file: CSV, Parquet or DuckDB")
    validate.add_argument("--columns", metavar="MAP.yml", help="column map whose 'tickets' section maps the export")
    validate.add_argument("--table", default="tickets", help="table to read from a DuckDB file (default: tickets)")
    validate.add_argument("--query", help="SQL query to run on a DuckDB file instead of reading a table (read-only)")
    validate.set_defaults(handler=_validate)

    draft = commands.add_parser("map", help="draft a column map: guess each column's type and contract role")
    draft.add_argument("--data", required=True, help="export to map: CSV, Parquet or DuckDB")
    draft.add_argument("--out", metavar="MAP.yml", help="write the drafted map here (never over an existing file); "
                                                        "without it the map is printed")
    draft.add_argument("--table", default="tickets", help="table to read from a DuckDB file (default: tickets)")
    draft.add_argument("--query", help="SQL query to run on a DuckDB file instead of reading a table (read-only)")
    draft.set_defaults(handler=_map)

    compare = commands.add_parser("compare", help="put the key estimates of two runs side by side, with their change")
    compare.add_argument("run_a", metavar="RUN_A", help="report folder written by study run (the earlier, or reference, run)")
    compare.add_argument("run_b", metavar="RUN_B", help="report folder written by study run (compared against RUN_A)")
    compare.add_argument("--out", help="folder for compare.html and compare.csv: new, or an earlier comparison "
                                       "(default: reports/compare)")
    compare.set_defaults(handler=_compare)

    refresh = commands.add_parser(
        "refresh-notebooks", help="re-execute the committed notebooks in place (for developers; nbval checks them)"
    )
    refresh.add_argument("--only", action="append", default=[], metavar="NAME", help="notebooks to refresh")
    refresh.set_defaults(handler=_refresh)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``study`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:  # study.data.schema.DataError among them
        print(f"study: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an unwritable or vanished place: one line, not a traceback
        print(f"study: error: {error.strerror or error}{f': {error.filename}' if error.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("study: interrupted", file=sys.stderr)
        return 130


def command() -> NoReturn:
    """The ``study`` console script: :func:`main`, then the process ends with its exit status.

    It ends as ``sys.exit`` would (other threads joined, ``atexit`` handlers run, output flushed) but without
    the interpreter's teardown, which frees the objects of every module a run imported one at a time: 0.3 s after
    the report is written, for memory the operating system takes back at once. In-process callers (tests) use
    :func:`main`.
    """
    import atexit
    import threading

    status = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, a stream closed: nothing left to lose
            pass
    os._exit(status)


if __name__ == "__main__":
    command()
