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
more (741 of 25,000 customers on the sample). So they are added here in the same order: each
customer's values are collected with their positions, sorted by position and folded from 0
(``list_reduce``; Spark's ``aggregate``). The order is fixed by the file, so the sums are the same
bytes on any thread count or partitioning, and the same as the pandas table's. Measured on 10
million tickets (2 cores, load 4-7): the ``GROUP BY`` takes 3.1 s with plain sums, 3.7-4.3 s with
ordered ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.ab.customers import PRE_PERIOD_COVARIATES
from study.data.experiment import CountedLedger, ExperimentUnits
from study.engine.sources import quote

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
    if hasattr(source, "session") and hasattr(source, "frame"):  # Spark
        from pyspark.sql import functions as F

        from study.engine.spark import SparkSource

        files = source.frame.inputFiles()
        if len(files) != 1:
            raise ValueError(f"the SLA experiment scans one Parquet file in its row order; this source has {len(files)} files")
        frame = source.frame.select("*", F.col("_metadata.row_index").alias(POSITION))
        spark = SparkSource(frame, source.session)
        return spark, spark.relation
    if getattr(source, "relation", None) == "read_parquet(?)":
        return source, f"(SELECT *, file_row_number AS {quote(POSITION)} FROM read_parquet(?, file_row_number = true))"
    raise ValueError("the SLA experiment's engine path scans a Parquet file (the copy study run writes); "
                     "give tickets in memory to the pandas path instead")


def fetch_frame(source, select: str, from_: str):
    """Run ``select`` (``{relation}`` replaced by ``from_``) and return its rows as a pandas frame, through Arrow.

    Millions of rows (one per customer) would be slow as Python tuples; Arrow keeps the column types
    (a whole-number column stays int64 unless it has missing values, as when pandas reads the file).
    """
    if hasattr(source, "session"):  # Spark: the same placeholder rule as its execute()
        from study.engine.dialect import to_spark

        parts = re.split(r'("(?:[^"]|"")*")', select)
        sql = to_spark("".join(p if p.startswith('"') else p.replace("{relation}", from_) for p in parts))
        return source.session.sql(sql).toArrow().to_pandas()
    quoted = r"""("(?:[^"]|"")*"|'(?:[^']|'')*')"""
    sql = "".join(p if p.startswith(('"', "'")) else p.replace("{relation}", from_) for p in re.split(quoted, select))
    uses = sum(p.count("?") for p in re.split(quoted, sql) if not p.startswith(('"', "'")))
    return source.connection.sql(sql, params=source.parameters * uses).to_arrow_table().to_pandas()


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


def first_sql(column: str, order: str = quote(POSITION), known: bool = True) -> str:
    """SQL for ``column`` at a group's first row by ``order``: of the rows with a value (``known``), or of
    all rows (then NULL when that row has none)."""
    c, p = quote(column), quote(POSITION)
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
    present = set(source.columns())
    missing = [c for c in (unit, arm, "csat", "repeat_purchase", "response_log2_hours") if c not in present]
    if missing:
        raise ValueError(f"the SLA experiment needs the column(s) {', '.join(missing)}, which the data lacks")
    source, relation = positioned(source)
    u, a, p = quote(unit), quote(arm), quote(POSITION)
    listed = ", ".join("'" + str(v).replace("'", "''") + "'" for v in dict.fromkeys(arms))
    covariates = [c for c in PRE_PERIOD_COVARIATES if c in present]
    (counts,) = source.execute(f"SELECT count(*), count(*) FILTER (WHERE {a} IS NULL), "
                               f"count(*) FILTER (WHERE {a} IS NOT NULL AND {a} NOT IN ({listed}))"
                               f"{''.join(f', count({quote(c)})' for c in covariates)} FROM {{relation}}", from_=relation)
    rows = int(counts[0])
    unit_columns = [c for c, n in zip(covariates, counts[3:]) if n > 0]
    selects = [f"{u} AS unit_value", f"min({a}) AS low_arm", f"max({a}) AS high_arm", f"arg_min({a}, {p}) AS first_arm",
               f"min({p}) AS first_row", "count(*) AS tickets", 'count("response_log2_hours") AS timed',
               'count("csat") AS surveys', 'CAST(COALESCE(sum(CAST("csat" AS BIGINT)), 0) AS DOUBLE) AS csat_sum',
               'CAST(sum(CAST("repeat_purchase" AS BIGINT)) AS DOUBLE) AS repeat_sum',
               f"{ordered_sum_sql('response_log2_hours')} AS log2_hours_sum"]
    if "next_spend" in present:
        selects.append(f'CASE WHEN count("next_spend") = count(*) THEN {ordered_sum_sql("next_spend")} END AS next_spend')
    selects += [f"{first_sql(c, known=False)} AS {quote('unit ' + c)}" for c in unit_columns]
    selects += [f"{first_sql(c)} AS {quote(c)}" for c in covariates]
    if "channel" in present:
        # The channel of the first ticket by time, ties in row order, tickets without a time last.
        time = ("struct_pack(n := created_at IS NULL, t := COALESCE(created_at, CAST('1970-01-01' AS TIMESTAMP)), "
                f"p := {p})") if "created_at" in present else p
        selects.append(f"{first_sql('channel', order=time)} AS first_channel")
    groups = fetch_frame(source, f"SELECT {', '.join(selects)} FROM {{relation}} WHERE {a} IN ({listed}) "
                                 f"GROUP BY {u} ORDER BY {u} NULLS LAST", relation)
    # A unit seen in both arms loses all its rows; rows without a unit are one "unit" of their own,
    # never mixed, as in experiment_rows.
    known_unit = groups["unit_value"].notna().to_numpy()
    mixed = (groups["low_arm"] != groups["high_arm"]).to_numpy() & known_unit
    no_arm, other_arm = int(counts[1]), int(counts[2])
    # The tickets' own dtypes; a whole-number numpy column with missing values is float64 in pandas.
    with_gaps = {c for c, n in zip(covariates, counts[3:]) if n < rows}
    wanted = {name: dtypes[c] for c, name in [(unit, "unit_value"), (arm, "first_arm"), ("channel", "first_channel"),
                                               *((c, c) for c in covariates), *((c, "unit " + c) for c in unit_columns)]
              if dtypes and c in dtypes and name in groups.columns}
    wanted |= {name: float for c in with_gaps for name in (c, "unit " + c) if name in groups.columns
               and _numpy_integer(wanted.get(name, groups[name].dtype))}
    groups = groups.astype(wanted)
    kept = groups[~mixed]
    reasons = {f"no {arm}": no_arm, f"{arm} not one of {', '.join(arms)}": other_arm,
               f"{unit} seen in several arms": int(groups.loc[mixed, "tickets"].sum())}
    ledger = CountedLedger(rows, reasons, int(kept["tickets"].sum()), set_aside)
    units = kept.sort_values("first_row", kind="stable")
    units = pd.DataFrame({unit: units["unit_value"], arm: units["first_arm"],
                          **{c: units["unit " + c] for c in unit_columns}}).reset_index(drop=True)
    experiment = ExperimentUnits(None, units, ledger, int(mixed.sum()), dict(set_aside or {}))
    customers = kept[known_unit[~mixed]].rename(columns={"unit_value": unit, "first_arm": arm})
    sums = ["tickets", "surveys", "csat_sum", "repeat_sum", "log2_hours_sum", *(["next_spend"] if "next_spend" in present else [])]
    customers = customers.astype({c: float for c in sums})
    customers = customers[[unit, arm, *sums, *covariates, *(["first_channel"] if "channel" in present else [])]]
    customers = customers.assign(repeat_rate=customers["repeat_sum"] / customers["tickets"]).reset_index(drop=True)
    untimed = int((kept["tickets"] - kept["timed"]).sum())
    return EngineExperiment(experiment, customers, untimed, unit_columns)
