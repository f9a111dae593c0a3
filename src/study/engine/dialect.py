"""DuckDB-dialect SQL as Spark SQL: sqlglot's transpiler, with the few mappings it gets wrong fixed.

Every aggregation of the study is written once, in DuckDB's dialect, and run as it is on DuckDB.
For Spark it is parsed by sqlglot and written out in Spark's dialect. Two of sqlglot's mappings
would change the numbers, so they are fixed here:

- ``quantile_cont(x, q)`` becomes ``PERCENTILE_CONT(x, q)``, which Spark refuses (it takes the
  ``WITHIN GROUP`` form only), and DuckDB's ``percentile_cont(q) WITHIN GROUP (...)`` becomes
  ``PERCENTILE_APPROX``, an approximation. Both are written as Spark's ``percentile(x, q)``: the
  exact quantile with linear interpolation, DuckDB's definition.
- ``log10(x)`` becomes ``LOG(10, x)``, a quotient of natural logarithms that can differ from a
  base-10 logarithm in the last bit (and move a value across a histogram edge), and DuckDB's
  one-argument ``log(x)``, which is base 10, becomes Spark's ``LOG(x)``, which is natural: both are
  written as Spark's own ``LOG10(x)``.

What has no Spark equivalent is refused, naming the function, instead of failing somewhere inside
Spark: DuckDB's compensated sums (``fsum``), ``HUGEINT`` and the top-n form ``min(x, n)``. Portable
SQL sums with :func:`study.ab.aggregate.exact_sum_sql` instead.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# DuckDB functions sqlglot passes through by name, which Spark lacks or defines differently.
_DUCKDB_ONLY = {"fsum", "sumkahan", "kahan_sum", "favg", "list", "array_agg_distinct", "histogram", "arg_max_null"}


class NotPortable(ValueError):
    """SQL that uses a DuckDB feature Spark does not have."""


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression
        ordered = order.expressions[0] if isinstance(order, exp.Order) and len(order.expressions) == 1 else None
        if ordered is None or ordered.args.get("desc"):
            raise NotPortable("percentile_cont ... WITHIN GROUP needs one ascending ORDER BY column to run on Spark")
        return exp.Anonymous(this="percentile", expressions=[ordered.this, node.this.this])
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    if isinstance(node, exp.Log):
        if node.args.get("expression") is None:  # DuckDB's one-argument log is base 10, Spark's the natural one
            return exp.Anonymous(this="LOG10", expressions=[node.this])
        if node.this == exp.Literal.number(10):
            return exp.Anonymous(this="LOG10", expressions=[node.expression])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in _DUCKDB_ONLY:
        raise NotPortable(f"{node.this}() is DuckDB's own and has no Spark equivalent; "
                          "sum with study.ab.aggregate.exact_sum_sql instead")
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.INT128, exp.DataType.Type.UINT128):
        raise NotPortable("HUGEINT has no Spark type; cast to DECIMAL(38, 0) instead")
    if isinstance(node, (exp.Min, exp.Max)) and (node.expressions or node.args.get("count") is not None):
        raise NotPortable(f"{node.key}(x, n) is DuckDB's top-n list and has no Spark equivalent")
    return node


def to_spark(sql: str) -> str:
    """One DuckDB-dialect statement as Spark SQL.

    Parameters
    ----------
    sql : str
        A single statement in DuckDB's dialect (identifiers in double quotes).

    Returns
    -------
    str
        The statement in Spark's dialect (identifiers in backquotes).

    Raises
    ------
    NotPortable
        For SQL that uses a DuckDB feature Spark does not have, or text that is not one statement.
    """
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise NotPortable(f"SQL that sqlglot cannot read: {str(error).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0] is None:
        raise NotPortable(f"expected one SQL statement, got {len([s for s in statements if s is not None])}")
    return statements[0].transform(_fix).sql(dialect="spark")
