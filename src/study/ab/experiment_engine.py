"""An experiment table analysed on an engine (DuckDB or Spark): the same result as the pandas path.

:func:`study.ab.experiment_table.analyse` holds the table in memory. Here every step is a query on a
source (:mod:`study.engine`): the arms, the rows whose exposure disagrees with their arm, the unit
checks and the sufficient statistics of every segmentation in the A/B engine's two scans
(:func:`study.ab.aggregate.analyse`), each metric's kind, and the ledger from counts. What needs each
unit's value, the heavy-tail check and the robust comparisons (ranks, quantiles, resamples), fetches
that metric's column of the kept rows, and only for metrics that are not 0/1. The comparisons are
then :func:`study.ab.experiment_table.compare`'s, as in pandas.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from study import config
from study.ab import abtest, aggregate, robust
from study.ab.experiment_table import ExperimentMap, ExperimentResult, analyse, check_arms, compare, read_map
from study.ab.relations import UNIT_FLAGS, quote, unit_rule_sql
from study.ab.sufficient import Metric
from study.core.results import Source
from study.data import io
from study.data.convert import short
from study.data.experiment import CountedLedger
from study.data.schema import DataError
from study.engine import DEFAULT_MASTER, check_engine, open_source
from study.engine.sources import Subset


def open_table(path: str | Path, engine: str, spark_master: str = DEFAULT_MASTER):
    """An experiment table as a source of ``engine``, and the facts about its file.

    A Parquet file is read by the engine itself, a NaN stored in a float column read as missing (as pandas
    reads it; to SQL it would be a value). A CSV or DuckDB file is read here as the pandas path reads it
    (:func:`study.data.io.load`: identifiers stay text, the same missing values) and handed to Spark as
    Arrow, so that both paths see the same typed values.

    Returns
    -------
    (source, study.core.results.Source)
    """
    check_engine(engine, spark_master)
    path = Path(path)
    if path.name.lower().endswith((".parquet", ".pq")):
        source = _nan_as_missing(open_source(path, engine, spark_master))
        (rows,), = source.execute("SELECT COUNT(*) FROM {relation}")
        return source, Source(path.name, io.fingerprint(path), int(rows), source.columns())
    frame, facts = io.load(path)
    if engine == "duckdb":
        return aggregate.DuckDBSource(frame), facts
    import pyarrow as pa

    from study.engine.spark import SparkSource, spark_session

    session = spark_session(spark_master)
    return SparkSource(session.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False)), session), facts


def _columns_replaced(source, names: list[str], sql, spark):
    """``source`` with the columns ``names`` rewritten, as a source of its own; the other columns stay as they are.

    On DuckDB each becomes the expression ``sql(quoted name)``, on Spark ``spark(column)`` (a ``pyspark.sql.Column``).
    """
    if hasattr(source, "frame"):  # Spark: the same rows, as a view of their own
        from pyspark.sql import functions as F

        from study.engine.spark import SparkSource

        def column(name: str):
            value = F.col(f"`{name.replace('`', '``')}`")
            return spark(value).alias(name) if name in names else value

        return SparkSource(source.frame.select([column(c) for c in source.columns()]), source.session)
    replaced = ", ".join(f"{sql(quote(c))} AS {quote(c)}" for c in names)
    return Subset(source, select=f"* REPLACE ({replaced})")


def _nan_as_missing(source):
    """``source`` with each float column's NaN values as NULL, as pandas reads them."""
    floats = [name for name, kind in source.column_types().items() if kind.upper() in ("DOUBLE", "FLOAT", "REAL")]
    if not floats:
        return source
    if not hasattr(source, "frame"):  # DuckDB reads a stored NaN as NULL unless told it may hold one
        source.relation = source.relation.replace("read_parquet(?)", "read_parquet(?, can_have_nan = true)")

    def spark(value):
        from pyspark.sql import functions as F

        return F.nanvl(value, F.lit(None))

    return _columns_replaced(source, floats, lambda c: f"CASE WHEN isnan({c}) THEN NULL ELSE {c} END", spark)


def _yes_no_as_text(source, columns: list[str]):
    """``source`` with each yes/no column among ``columns`` as the text pandas gives it (``'True'``, ``'False'``).

    Arms and exposures are compared and shown as text; SQL casts a yes/no value to ``'true'``, pandas to ``'True'``,
    so without this an engine would name the arms differently from the pandas path and refuse a map's
    ``control: "True"``. (Segments keep their values on both paths.)
    """
    types = source.column_types()
    flags = [c for c in dict.fromkeys(columns) if c and types.get(c, "").upper() == "BOOLEAN"]
    if not flags:
        return source

    def spark(value):
        from pyspark.sql import functions as F

        return F.when(value, F.lit("True")).when(~value, F.lit("False"))

    return _columns_replaced(source, flags, lambda c: f"CASE WHEN {c} THEN 'True' WHEN NOT {c} THEN 'False' END", spark)


def _text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def exposure_agrees(mapping: ExperimentMap) -> str:
    """SQL true where the exposure column shows what the row's arm should show
    (:func:`study.ab.unit_checks.inconsistent_assignment` is its negation: a missing value disagrees)."""
    arm, shown = quote(mapping.arm), quote(mapping.exposure_column)
    cases = " ".join(f"WHEN {_text(a)} THEN {_text(e)}" for a, e in mapping.exposure_expected.items())
    return f"COALESCE(CAST({shown} AS VARCHAR) = (CASE CAST({arm} AS VARCHAR) {cases} END), FALSE)"


def _kind_counts(mapping: ExperimentMap, where: str | None = None) -> list[str]:
    """SQL aggregates, two a metric: its numeric values, and those neither 0 nor 1 (optionally among rows meeting ``where``)."""
    found = []
    for metric in mapping.metrics:
        value = f"TRY_CAST({quote(metric)} AS DOUBLE)"
        condition = f" AND {where}" if where else ""
        found += [f"COUNT(*) FILTER (WHERE {value} IS NOT NULL{condition})",
                  f"COUNT(*) FILTER (WHERE {value} NOT IN (0, 1){condition})"]
    return found


def _metrics(counts, mapping: ExperimentMap, strict: bool = True) -> list[Metric]:
    """:func:`study.ab.experiment_table.metric_specs` from :func:`_kind_counts`: a proportion when every value is
    0 or 1. A metric without a numeric value is an error (``strict``), or else a mean for now."""
    specs = []
    for i, column in enumerate(mapping.metrics):
        numeric, other = counts[2 * i], counts[2 * i + 1]
        if strict and not numeric:
            raise DataError(f"metric column '{column}' has no numeric value")
        specs.append(Metric(column, column, "mean" if other or not numeric else "proportion", covariate=mapping.covariate))
    return specs


def clean_analysis(source, mapping: ExperimentMap, counts: list[int], segmentations):
    """Unit checks, the kept rows' relation, their kind counts, and the statistics of each segmentation (two scans).

    ``counts`` are :func:`_kind_counts` among every row with an arm and a unit. The rule leaves out exact
    copies (which change no kind) and whole units (which may): only then are the kept rows counted again.
    """
    kept = {}

    def kinds(checks, relation: str) -> list[Metric]:
        kept["relation"], kept["counts"] = relation, counts
        if checks.rows_of_flagged_units:
            (again,) = source.execute(f"SELECT {', '.join(_kind_counts(mapping))} FROM {{relation}}", from_=relation)
            kept["counts"] = [int(v) for v in again]
        return _metrics(kept["counts"], mapping, strict=False)

    checks, statistics = aggregate.analyse(source, _metrics(counts, mapping, strict=False), mapping.unit, mapping.arm,
                                           segmentations, kinds=kinds)
    return checks, kept["relation"], kept["counts"], statistics


def flagged_rows(source, checks, mapping: ExperimentMap) -> dict[int, int]:
    """Rows of units in several arms (4) and of units with conflicting rows (5), as the ledger counts them."""
    if not (checks.units_in_several_arms and checks.units_with_conflicting_rows):
        return {4 if checks.units_in_several_arms else 5: checks.rows_of_flagged_units}
    rows = source.execute(f"{unit_rule_sql('{relation}', source.columns(), mapping.unit, mapping.arm)}"
                          "SELECT flag, SUM(unit_rows) FROM unit_rule_units WHERE flag IS NOT NULL GROUP BY flag")
    return {int(flag): int(n) for flag, n in rows}


def _rule_ledger(checks, flagged: dict[int, int]) -> dict[int, int]:
    """The unit rule's rows left out, by its flag (:data:`study.ab.relations.UNIT_FLAGS`)."""
    return {1: checks.rows_without_arm, 2: checks.rows_without_unit, 3: checks.exact_duplicate_rows,
            4: flagged.get(4, 0), 5: flagged.get(5, 0)}


def first_facts(source, mapping: ExperimentMap) -> tuple[list, list, list]:
    """One grouped scan: per arm (as text) its rows, rows whose exposure disagrees, and the metric kind counts
    among rows with a unit, both of the rows whose exposure agrees and of all rows (the intention to treat)."""
    agrees = exposure_agrees(mapping) if mapping.exposure_column and mapping.exposure_expected else "TRUE"
    unit = f"{quote(mapping.unit)} IS NOT NULL"
    parts = ["COUNT(*)", f"COUNT(*) FILTER (WHERE NOT {agrees})", *_kind_counts(mapping, f"{unit} AND {agrees}"),
             *_kind_counts(mapping, unit)]
    arm = quote(mapping.arm)
    rows = source.execute(f"SELECT CAST({arm} AS VARCHAR), {', '.join(parts)} FROM {{relation}} GROUP BY 1")
    k = 2 * len(mapping.metrics)
    with_arm = [r for r in rows if r[0] is not None]
    totals = [sum(int(r[i]) for r in with_arm) for i in range(1, len(parts) + 1)]
    everything = [sum(int(r[i]) for r in rows) for i in range(1, 3)]
    return [r[0] for r in with_arm], everything, [totals[2:2 + k], totals[2 + k:]]


def analyse_source(source, mapping: ExperimentMap, alpha: float = 0.05, srm_alpha: float = 0.001,
                   name: str = "data") -> ExperimentResult:
    """:func:`study.ab.experiment_table.analyse` on an engine: the same checks, ledger and comparisons.

    Parameters
    ----------
    source : source
        The experiment table (:func:`open_table`, or any source of :mod:`study.engine`).
    mapping : ExperimentMap
    alpha, srm_alpha : float
    name : str
        The table's name, for messages.

    Returns
    -------
    ExperimentResult
        Without ``source`` and ``parameters`` (set by :func:`from_files`).

    Raises
    ------
    DataError
        As the pandas path: columns the map names that the table lacks, arms that do not fit the map,
        no control row left once rows are set aside, a metric without a number.
    """
    missing = mapping.missing(source.columns())
    if missing:
        raise DataError(f"{name}: the column map names columns the data lacks: {', '.join(short(c) for c in missing)}")
    source = _yes_no_as_text(source, [mapping.arm, mapping.exposure_column])
    arms, (rows, mismatches), (exposed_kinds, all_kinds) = first_facts(source, mapping)
    check_arms(set(arms), mapping, name)
    dropped, exposed = {}, source
    if mapping.exposure_column and mapping.exposure_expected:
        dropped[f"{mapping.arm} and {mapping.exposure_column} disagree"] = mismatches
        exposed = Subset(source, exposure_agrees(mapping))
    checks, kept, counts, statistics = clean_analysis(exposed, mapping, exposed_kinds,
                                                      [(), *((s,) for s in mapping.segments)])
    for flag, n in _rule_ledger(checks, flagged_rows(exposed, checks, mapping)).items():
        reason = UNIT_FLAGS[flag].format(unit=mapping.unit, arm=mapping.arm)
        dropped[reason] = dropped.get(reason, 0) + n
    ledger = CountedLedger(rows, dropped, rows - sum(dropped.values()))
    if mapping.control not in statistics[0].unit_counts():
        raise DataError(f"no row of the control arm {short(mapping.control)} is left once the rows that cannot be "
                        f"trusted are set aside ({', '.join(f'{k}: {v:,}' for k, v in ledger.as_dict()['dropped'].items())})")
    metrics = _metrics(counts, mapping)  # a metric without a number stops here, as in pandas
    robust_effects = robust_comparisons(exposed, kept, mapping, metrics, alpha)
    itt = []
    if mismatches:
        assigned = clean_analysis(source, mapping, all_kinds, [()])
        _metrics(assigned[2], mapping)
        assigned = assigned[3][0]
        itt = abtest.adjust_p_values(abtest.compare_metrics(assigned, control=mapping.control, alpha=alpha))
    return compare(mapping, ledger, mismatches, checks, statistics[0], statistics[1:], robust_effects, itt,
                   alpha, srm_alpha)


def robust_comparisons(source, kept: str, mapping: ExperimentMap, metrics: list[Metric], alpha: float) -> list:
    """:func:`study.ab.robust.robust_comparisons` of the metrics marked robust or heavy-tailed, from their values.

    A metric's kept values are fetched only when it may need them: one marked robust, or one that is
    not 0/1 (a 0/1 metric is never heavy-tailed).
    """
    kinds = {m.name: m.kind for m in metrics}
    wanted = [m for m in mapping.metrics if mapping.roles.get(m, {}).get("robust") or kinds[m] != "proportion"]
    if not wanted:
        return []
    selected = ", ".join(f"TRY_CAST({quote(m)} AS DOUBLE) AS {quote(m)}" for m in wanted)
    values = source.arrow(f"SELECT CAST({quote(mapping.arm)} AS VARCHAR) AS {quote(mapping.arm)}, {selected} "
                          "FROM {relation}", from_=kept).to_pandas()
    chosen = [m for m in wanted if mapping.roles.get(m, {}).get("robust") or robust.heavy_tailed(values[m])]
    return robust.robust_comparisons(values, chosen, mapping.arm, mapping.control, alpha)


def from_files(data_path: str | Path, columns_path: str | Path, alpha: float = 0.05, srm_alpha: float = 0.001,
               relative_mde: float = 0.05, engine: str = "duckdb", spark_master: str = "local[2]") -> ExperimentResult:
    """Read an experiment table and its column map and analyse it (:func:`study.ab.experiment_table.analyse`,
    or on Spark :func:`analyse_source`: the same numbers).

    Parameters
    ----------
    data_path : str or Path
        CSV, Parquet or DuckDB file, one row per randomized unit.
    columns_path : str or Path
        Column map with an ``experiment`` section (:func:`study.ab.experiment_table.read_map`).
    alpha, srm_alpha, relative_mde : float
        1 - confidence level; sample-ratio alarm threshold; lift the next experiment should detect.
    engine : {"duckdb", "spark"}
        ``duckdb`` analyses the table in this process; ``spark`` aggregates it on Spark
        (:func:`open_table`).
    spark_master : str
        Spark master URL for ``engine="spark"``.
    """
    # The notebook's defaults, run by papermill from another folder, are the project's files.
    mapping = read_map(config.input_path(columns_path))
    if engine == "duckdb":
        table, source = io.load(config.input_path(data_path))
        result = analyse(table, mapping, alpha=alpha, srm_alpha=srm_alpha)
    else:
        table, source = open_table(config.input_path(data_path), engine, spark_master)
        result = analyse_source(table, mapping, alpha=alpha, srm_alpha=srm_alpha, name=source.name)
    parameters = {"alpha": alpha, "srm_alpha": srm_alpha, "relative_mde": relative_mde, "column_map": vars(mapping)}
    return dataclasses.replace(result, source=source, parameters=parameters)
