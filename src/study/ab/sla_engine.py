"""The SLA experiment's rows, units and customer table aggregated by an engine over the validated copy.

At 10 million tickets, loading every ticket into pandas to keep the experiment's rows and add them up
per customer took most of notebook 04's time and memory. Here one ``GROUP BY`` customer over the
copy that ``study run`` writes gives what :func:`study.data.experiment.experiment_rows` and
:func:`study.ab.customers.customer_table` give from the tickets in memory, the same bytes: the row
ledger, the first row of each unit and the customer table. The SQL is DuckDB's dialect and runs
translated on Spark (:mod:`study.engine.dialect`).

"First in row order" needs each row's position in the file: DuckDB's ``file_row_number`` and, on
Spark, the Parquet reader's ``_metadata.row_index`` (a Spark DataFrame has no order of its own; the
copy is one file, so its row index is the file's order). Both are the same numbers.

Sums. Counts, CSAT and repeat purchases are integers: their sums are exact and the same on any engine.
First response (log2 hours) and follow-up spend are fractional, and the pandas table adds them per
customer in row order (``0 + x1 + x2 + ...``, ``numpy.bincount``); an exact or compensated sum is
the correctly rounded one, which differs in the last bit for some customers with three tickets or
more (741 of 25,000 customers on the sample). Two values add up to the same double in any order, so
the ``GROUP BY`` sums as the engine likes, and the customers with three tickets or more are added
again in row order: on DuckDB their rows come back (a table of those customers is probed) and are
added as pandas adds them; on Spark each customer's values are collected with their positions,
sorted and folded from 0 (``list_reduce``, Spark's ``aggregate``). The order is the file's, so the
sums are the same bytes on any thread count or partitioning, and the pandas table's.

Cost, measured on 10 million tickets (6.2 million customers; 2 cores shared with other work, so
times are noisy): the ``GROUP BY`` is most of it (a key and a count alone take about 7 s at load 5;
each further aggregate over 6.2 million groups about 0.5-1 s; a struct as the first channel's order
12 s more, hence one BIGINT); the row-order sums 6-7 s. Against the pandas path in the same run
(``study run --only 04``, load 6-9): notebook 04 took 108 s against 86 s, and its process tree
4.3 GB against 4.7 GB (PSS).

Memory. The ``GROUP BY`` holds every customer's running aggregates: at 10 million tickets DuckDB
peaked at 3.4 GB for it. On a connection of its own the scan caps DuckDB at 2 GB
(:func:`study.engine.sources.within_memory`), and what does not fit is written to the connection's
own temporary folder (:func:`study.engine.sources.spill_folder`), removed with it: 2.3 GB at about 1 s
more (a 1 GB cap: 1.9 GB, 2.8 s more). Smaller data writes nothing. The tables keep some of the fetched
columns, each in memory of its own (:meth:`study.engine.sources.DuckDBSource.arrow`, one block per column):
while they shared DuckDB's batches and pandas' blocks, the customer table held 1.75 GB for 0.8 GB of its
own (notebook 04 after the scan: 2.5 GB then, 1.5 GB now).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.ab.customers import PRE_PERIOD_COVARIATES, _sums
from study.data.experiment import CountedLedger, ExperimentUnits
from study.engine.sources import quote, within_memory

# The position column added to the source's rows (a name no ticket file uses).
POSITION = "__study_row_position"


@dataclass
class EngineExperiment:
    """What the engine found: the experiment's rows as counts, its units, the customer table.

    Attributes
    ----------
    experiment : ExperimentUnits
        Ledger, first row per unit (in order of first appearance) and units in several arms; ``rows``
        is ``None`` (the rows stay in the file).
    customers : pandas.DataFrame
        As :func:`study.ab.customers.customer_table` of the experiment's rows.
    untimed : int
        Experiment rows without a first response time.
    covariates : list of str
        Pre-period covariates with a value somewhere (the columns of ``experiment.units`` after the arm).
    """

    experiment: ExperimentUnits
    customers: pd.DataFrame
    untimed: int
    covariates: list


def positioned(source):
    """``source`` with a column :data:`POSITION`, each row's number in its Parquet file, as a relation.

    Returns
    -------
    tuple
        ``(source, relation)``: the source to run SQL on and the relation (SQL) holding the rows.

    Raises
    ------
    ValueError
        For a source that is not one Parquet file: its rows have no order to take the first from.
    """
    # A NaN stored as a value (another tool's Parquet) is a missing value, as pandas reads it: SQL would count it
    # as a value and carry it into every sum.
    if hasattr(source, "session") and hasattr(source, "frame"):  # Spark
        from pyspark.sql import functions as F
        from pyspark.sql.types import DoubleType, FloatType

        from study.engine.spark import SparkSource

        files = source.frame.inputFiles()
        if len(files) != 1:
            raise ValueError(f"the SLA experiment scans one Parquet file in its row order; this source has {len(files)} files")
        columns = [F.when(F.isnan(F.col(f"`{field.name}`")), F.lit(None)).otherwise(F.col(f"`{field.name}`")).alias(field.name)
                   if isinstance(field.dataType, (DoubleType, FloatType)) else F.col(f"`{field.name}`")
                   for field in source.frame.schema.fields]
        frame = source.frame.select(*columns, F.col("_metadata.row_index").alias(POSITION))
        spark = SparkSource(frame, source.session)
        return spark, spark.relation
    if getattr(source, "relation", None) == "read_parquet(?)":
        floats = [quote(c) for c, kind in source.column_types().items() if kind in ("DOUBLE", "FLOAT", "REAL")]
        replace = (f" REPLACE ({', '.join(f'CASE WHEN isnan({c}) THEN NULL ELSE {c} END AS {c}' for c in floats)})"
                   if floats else "")
        # can_have_nan: Parquet's statistics leave NaN out, and without it DuckDB takes them to mean "no NaN"
        # and folds isnan() away.
        return source, (f"(SELECT *{replace}, file_row_number AS {quote(POSITION)} "
                        "FROM read_parquet(?, file_row_number = true, can_have_nan = true))")
    raise ValueError("the SLA experiment's engine path scans a Parquet file (the copy study run writes); "
                     "give tickets in memory to the pandas path instead")


def fetch_frame(source, select: str, from_: str):
    """Run ``select`` (``{relation}`` replaced by ``from_``) and return its rows as a pandas frame, through Arrow.

    Millions of rows (one per customer) would be slow as Python tuples; Arrow keeps the column types
    (a whole-number column stays int64 unless it has missing values, as when pandas reads the file).
    """
    if getattr(source, "own_connection", False):
        import duckdb

        # A long query would draw DuckDB's progress bar into the notebook; DuckDB's allocator keeps what a query
        # freed (at 10M tickets about 0.9 GB after the customers' GROUP BY, for the rest of the notebook) unless
        # told to give it back, at no measurable cost.
        for setting in ("enable_progress_bar = false", "allocator_flush_threshold = '32MB'",
                        "allocator_background_threads = true"):
            try:
                source.connection.execute(f"SET {setting}")
            except duckdb.Error:  # refused (a kernel without ipywidgets draws no bar anyway): DuckDB works as before
                pass
    # One block per column: the tables keep some columns of these rows, and a column held in a block shared
    # with the others would keep all of them (at 10 million tickets 0.9 GB of columns no table uses).
    return source.arrow(select, from_=from_).to_pandas(split_blocks=True, self_destruct=True)


def _time_order(clock: tuple, rows: int, seconds: str) -> str:
    """SQL ordering rows by time, ties in row order, rows without a time last: one BIGINT (seconds and
    position in one number) when every time is a whole second and it fits, else a struct, which
    DuckDB compares about 10 times slower (at 10 million tickets, 12 s against 1 s)."""
    low, high, fractional = clock
    p = quote(POSITION)
    width = max(rows, 1).bit_length()  # positions are below 2**width
    if not fractional and max(abs(int(low or 0)), abs(int(high or 0))) < 2 ** (61 - width):
        return f"CASE WHEN created_at IS NULL THEN {2 ** 62} + {p} ELSE {seconds} * {2 ** width} + {p} END"
    return ("struct_pack(n := created_at IS NULL, t := COALESCE(created_at, CAST('1970-01-01' AS TIMESTAMP)), "
            f"p := {p})")


def _row_order_sums(source, relation: str, rows_sql: str, unit: str, units: pd.Series, spend: bool) -> dict:
    """The row-order sums of ``units`` (sorted, each with three tickets or more) from their rows, added
    in numpy as :func:`study.ab.customers.customer_table` adds them (``numpy.bincount`` in row order).

    Measured on 10 million tickets (761,917 such customers, 2 cores, load 5): 5.8-7.3 s, against
    11.9 s for the sorted lists of :func:`ordered_sum_sql`; the same bytes.
    """
    columns = ["response_log2_hours", *(["next_spend"] if spend else [])]
    found = fetch_frame(source, f"SELECT {quote(unit)} AS unit_value, {quote(POSITION)} AS row_position, "
                                f"{', '.join(quote(c) for c in columns)} {rows_sql}", relation)
    order = np.argsort(found["row_position"].to_numpy(), kind="stable")
    group = pd.Index(units).get_indexer(found["unit_value"].iloc[order])
    if (group < 0).any():
        raise RuntimeError("the engine returned rows of customers it was not asked for")
    out = {}
    for column, name in zip(columns, ["log2_hours_sum", "next_spend"]):
        values = found[column].to_numpy(dtype=float, na_value=np.nan)[order]
        out[name] = _sums(group, values, len(units))
        if column == "next_spend":  # a customer with any ticket of unknown spend has unknown spend
            out[name][np.bincount(group[np.isnan(values)], minlength=len(units)) > 0] = np.nan
    return out


def _registered(source, units: pd.Series) -> str | None:
    """``units`` as a one-column relation of a DuckDB source's connection (SQL naming it), or None for
    another engine, which finds them again with a ``GROUP BY``.

    Finding them again costs another hash of every customer (at 10 million tickets, two thirds of
    the second query's time); a registered table of the few hundred thousand with three tickets or
    more is only probed.
    """
    connection = getattr(source, "connection", None)
    if connection is None or not getattr(source, "own_connection", False):
        return None
    import pyarrow as pa

    connection.register("sla_repeat_customers", pa.table({"unit": pa.Array.from_pandas(units)}))
    return '(SELECT "unit" FROM sla_repeat_customers)'


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _numpy_integer(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "iu"


def file_dtypes(path) -> dict:
    """Column -> the pandas dtype a Parquet file's column has when pandas reads it (its pandas metadata kept)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).empty_table().to_pandas().dtypes.to_dict()


def ordered_sum_sql(column: str, position: str = quote(POSITION)) -> str:
    """SQL for a group's sum of ``column`` added in row order from 0, NULL when it has no value (see module docstring)."""
    c = quote(column)
    pairs = f"list_sort(list(struct_pack(p := {position}, v := CAST({c} AS DOUBLE))) FILTER (WHERE {c} IS NOT NULL))"
    return (f"CASE WHEN count({c}) > 0 THEN list_reduce(list_transform({pairs}, lambda s: s.v), "
            f"lambda a, b: a + b, CAST(0 AS DOUBLE)) END")


def _fractional_sums(spend: bool, ordered: bool) -> list[str]:
    """The sums of first response (log2 hours) and, with ``spend``, of follow-up spend (NULL for a customer
    with any ticket of unknown spend): in row order (:func:`ordered_sum_sql`) or as the engine adds."""
    def total(column: str) -> str:
        return ordered_sum_sql(column) if ordered else f"sum(CAST({quote(column)} AS DOUBLE))"

    sums = [f"{total('response_log2_hours')} AS log2_hours_sum"]
    if spend:
        sums.append(f'CASE WHEN count("next_spend") = count(*) THEN {total("next_spend")} END AS next_spend')
    return sums


def first_sql(column: str, order: str = quote(POSITION), known: bool | None = True) -> str:
    """SQL for ``column`` at a group's first row by ``order``: of the rows with a value (``known``), of
    all rows (``known=False``; NULL when that row has none), or of all rows of a column without gaps
    (``known=None``)."""
    c, p = quote(column), quote(POSITION)
    if known is None:
        return f"arg_min({c}, {order})"
    first_known = f"arg_min({c}, {order}) FILTER (WHERE {c} IS NOT NULL)"
    if known:
        return first_known
    return f"CASE WHEN min({p}) FILTER (WHERE {c} IS NOT NULL) = min({p}) THEN {first_known} END"


def experiment_scan(source, unit: str = "customer_id", arm: str = "variant",
                    arms: tuple[str, str] = ("control", "treatment"), set_aside: dict[str, int] | None = None,
                    dtypes: dict | None = None) -> EngineExperiment:
    """:func:`study.data.experiment.experiment_rows` and :func:`study.ab.customers.customer_table` of a Parquet file.

    Parameters
    ----------
    source : source
        A :class:`study.engine.sources.DuckDBSource` or :class:`study.engine.spark.SparkSource` of one
        Parquet file (the copy ``study run`` writes), its rows in the order the tickets were read.
    unit, arm, arms, set_aside
        As for :func:`study.data.experiment.experiment_rows`; its ``unit_columns`` are the pre-period
        covariates with a value somewhere in the file (as ``TicketData.has`` finds them).
    dtypes : dict, optional
        Column -> the pandas dtype the tickets in memory would have (:func:`file_dtypes`): the tables
        take them, as the pandas path's do. Without it, the types Arrow gives.

    Returns
    -------
    EngineExperiment
    """
    return within_memory(source, lambda: _scan(source, unit, arm, arms, set_aside, dtypes))


def _scan(source, unit: str, arm: str, arms: tuple[str, str], set_aside: dict[str, int] | None,
          dtypes: dict | None) -> EngineExperiment:
    """The body of :func:`experiment_scan`, run :func:`within_memory`."""
    present = set(source.columns())
    missing = [c for c in (unit, arm, "csat", "repeat_purchase", "response_log2_hours") if c not in present]
    if missing:
        raise ValueError(f"the SLA experiment needs the column(s) {', '.join(missing)}, which the data lacks")
    source, relation = positioned(source)
    u, a, p = quote(unit), quote(arm), quote(POSITION)
    listed = ", ".join(_literal(v) for v in dict.fromkeys(arms))
    covariates = [c for c in PRE_PERIOD_COVARIATES if c in present]
    counted = [*covariates, *(["channel"] if "channel" in present else [])]
    timed = "channel" in present and "created_at" in present
    seconds = "date_diff('second', CAST('1970-01-01' AS TIMESTAMP), created_at)"
    clock = (f", min({seconds}), max({seconds}), count(*) FILTER (WHERE date_trunc('second', created_at) <> created_at)"
             if timed else "")
    (counts,) = source.execute(f"SELECT count(*), count(*) FILTER (WHERE {a} IS NULL), "
                               f"count(*) FILTER (WHERE {a} IS NOT NULL AND {a} NOT IN ({listed}))"
                               f"{''.join(f', count({quote(c)})' for c in counted)}{clock} FROM {{relation}}",
                               from_=relation)
    rows = int(counts[0])
    known = dict(zip(counted, (int(n) for n in counts[3:3 + len(counted)])))
    unit_columns = [c for c in covariates if known[c] > 0]
    spend = "next_spend" in present
    # The arm as 0 or 1 (the rows have one of the two): integer aggregates over millions of customers
    # cost a fraction of text ones. A column without gaps needs no filter: its first value is its first
    # known one (each filter is another pass over the groups' states).
    code = f"CASE WHEN {a} = {_literal(arms[0])} THEN 0 ELSE 1 END"
    selects = [f"{u} AS unit_value", f"min({code}) AS low_arm", f"max({code}) AS high_arm",
               f"arg_min({code}, {p}) AS first_arm",
               f"min({p}) AS first_row", "count(*) AS tickets", 'count("response_log2_hours") AS timed',
               'count("csat") AS surveys', 'CAST(COALESCE(sum(CAST("csat" AS BIGINT)), 0) AS DOUBLE) AS csat_sum',
               'CAST(sum(CAST("repeat_purchase" AS BIGINT)) AS DOUBLE) AS repeat_sum',
               *_fractional_sums(spend, ordered=False)]
    gaps = {c for c in counted if known[c] < rows}
    selects += [f"{first_sql(c, known=False)} AS {quote('unit ' + c)}" for c in unit_columns if c in gaps]
    selects += [f"{first_sql(c, known=True if c in gaps else None)} AS {quote(c)}" for c in covariates]
    if "channel" in present:
        # The channel of the first ticket by time, ties in row order, tickets without a time last.
        time = _time_order(counts[3 + len(counted):], rows, seconds) if timed else p
        selects.append(f"{first_sql('channel', order=time, known=True if 'channel' in gaps else None)} AS first_channel")
    experiment_rows_sql = f"FROM {{relation}} WHERE {a} IN ({listed})"
    groups = fetch_frame(source, f"SELECT {', '.join(selects)} {experiment_rows_sql} GROUP BY {u} ORDER BY {u} NULLS LAST",
                         relation)
    groups["first_arm"] = pd.array(np.asarray(arms, dtype=object)[groups["first_arm"].to_numpy()], dtype="str")
    for c in unit_columns:
        if c not in gaps:
            groups["unit " + c] = groups[c]
    known_unit = groups["unit_value"].notna().to_numpy()
    tickets = groups["tickets"].to_numpy()
    # Two values add up to the same double in any order; three or more are added again, in row order,
    # for those customers only (collecting every customer's values in order costs 3 times the scan).
    many = np.flatnonzero((tickets >= 3) & known_unit)
    if len(many):
        registered = _registered(source, groups["unit_value"].iloc[many])
        if registered is not None:
            resummed = _row_order_sums(source, relation, f"{experiment_rows_sql} AND {u} IN {registered}", unit,
                                       groups["unit_value"].iloc[many], spend)
        else:
            again = fetch_frame(source, f"SELECT {u}, {', '.join(_fractional_sums(spend, ordered=True))} "
                                        f"{experiment_rows_sql} AND {u} IN (SELECT {u} {experiment_rows_sql} GROUP BY {u} "
                                        f"HAVING count(*) >= 3) GROUP BY {u} ORDER BY {u}", relation)
            if len(again) != len(many) or not (again[unit].to_numpy() == groups["unit_value"].to_numpy()[many]).all():
                raise RuntimeError("the engine returned the customers with three tickets or more in another order than before")
            resummed = {c: again[c].to_numpy(dtype=float, na_value=np.nan) for c in again.columns[1:]}
        for column, sums in resummed.items():
            values = groups[column].to_numpy(dtype=float, copy=True)
            values[many] = sums
            groups[column] = values
    # A unit seen in both arms loses all its rows; rows without a unit are one "unit" of their own,
    # never mixed, as in experiment_rows.
    mixed = (groups["low_arm"] != groups["high_arm"]).to_numpy() & known_unit
    no_arm, other_arm = int(counts[1]), int(counts[2])
    # The tickets' own dtypes; a whole-number numpy column with missing values is float64 in pandas.
    with_gaps = gaps & set(covariates)
    # A categorical's categories are the file's, which the engine's text does not carry: the text is kept.
    wanted = {name: dtypes[c] for c, name in [(unit, "unit_value"), (arm, "first_arm"), ("channel", "first_channel"),
                                               *((c, c) for c in covariates), *((c, "unit " + c) for c in unit_columns)]
              if dtypes and c in dtypes and name in groups.columns and not isinstance(dtypes[c], pd.CategoricalDtype)}
    wanted |= {name: float for c in with_gaps for name in (c, "unit " + c) if name in groups.columns
               and _numpy_integer(wanted.get(name, groups[name].dtype))}
    # A whole-number column of a file pandas did not write (no pandas dtypes in it) may still have gaps.
    wanted |= {name: float for name, dtype in wanted.items() if _numpy_integer(dtype) and groups[name].isna().any()}
    wanted |= {"tickets": float, "surveys": float}
    groups = groups.astype(wanted)
    reasons = {f"no {arm}": no_arm, f"{arm} not one of {', '.join(arms)}": other_arm,
               f"{unit} seen in several arms": int(tickets[mixed].sum())}
    ledger = CountedLedger(rows, reasons, int(tickets[~mixed].sum()), set_aside)
    kept = np.flatnonzero(~mixed)
    by_first = kept[np.argsort(groups["first_row"].to_numpy()[kept], kind="stable")]
    units = groups[["unit_value", "first_arm", *("unit " + c for c in unit_columns)]].iloc[by_first]
    units.columns = [unit, arm, *unit_columns]
    experiment = ExperimentUnits(None, units.reset_index(drop=True), ledger, int(mixed.sum()), dict(set_aside or {}))
    sums = ["tickets", "surveys", "csat_sum", "repeat_sum", "log2_hours_sum", *(["next_spend"] if spend else [])]
    customers = groups[["unit_value", "first_arm", *sums, *covariates, *(["first_channel"] if "channel" in present else [])]]
    customers = customers.iloc[np.flatnonzero(~mixed & known_unit)].reset_index(drop=True)
    customers = customers.rename(columns={"unit_value": unit, "first_arm": arm})
    customers["repeat_rate"] = customers["repeat_sum"] / customers["tickets"]
    untimed = int((tickets[kept] - groups["timed"].to_numpy()[kept]).sum())
    return EngineExperiment(experiment, customers, untimed, unit_columns)
