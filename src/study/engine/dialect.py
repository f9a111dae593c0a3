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

- A ``WITH`` inside a subquery is moved to the top of the statement (Hive's rule), where the same
  names used twice collide; it stays where it is written, which Spark 3 and later read.
- DuckDB casts a fractional number to an integer by rounding it to the nearest, ties to even;
  Spark truncates it. Where the value cast is fractional in DuckDB (a division, arithmetic with a
  number like ``1048576.0`` or a DOUBLE), Spark is given ``CAST(RINT(x) AS ...)``: Java's
  ``rint`` rounds the same way. (Exact sums scale values to integers this way.)
- ``SUM(CAST(x AS BIGINT))``, an exact integer sum, is a HUGEINT on DuckDB but a BIGINT on Spark,
  which overflows (an error) past 2**63; on Spark the high and low 31 bits are summed apart and
  joined as a ``DECIMAL(38, 0)``: the same integer (see :func:`_split_sum`).

- DuckDB's ``isinf(x)`` is ``ABS(x) = CAST('Infinity' AS DOUBLE)`` and its ``epoch_us(t)`` Spark's
  ``UNIX_MICROS(t)`` (sqlglot passes both through by name, which Spark lacks).
- DuckDB's ``list_reduce(list, lambda, initial)``, a fold from ``initial`` in the list's order, is
  Spark's ``AGGREGATE(list, initial, lambda)`` (sqlglot passes the name through, which Spark lacks).

What has no Spark equivalent is refused, naming the function, instead of failing somewhere inside
Spark: DuckDB's compensated sums (``fsum``), ``HUGEINT`` and the top-n form ``min(x, n)``. Portable
SQL sums with :func:`study.engine.sources.exact_sum_sql` instead.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

# DuckDB functions sqlglot passes through by name, which Spark lacks or defines differently.
_DUCKDB_ONLY = {"epoch_ns", "fsum", "sumkahan", "kahan_sum", "favg", "list", "array_agg_distinct", "histogram", "arg_max_null"}


_INTEGERS = {exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
_FRACTIONAL = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}


def _fractional(node: exp.Expression) -> bool:
    """Whether DuckDB computes ``node`` as a fractional number: a division, a number with a point or an
    exponent, or a cast to DOUBLE/FLOAT/DECIMAL, alone or in arithmetic (a column's type is not known here)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Div):
        return True
    if isinstance(node, exp.Literal):
        return node.is_number and any(c in node.this.lower() for c in ".e")
    if isinstance(node, exp.Cast):
        return node.to.this in _FRACTIONAL
    if isinstance(node, (exp.Mul, exp.Add, exp.Sub, exp.Neg)):
        return any(_fractional(child) for child in node.iter_expressions())
    return False


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
    if isinstance(node, exp.Cast) and node.to.this in _INTEGERS and _fractional(node.this):
        return exp.Cast(this=exp.Anonymous(this="RINT", expressions=[node.this]), to=node.to)
    if isinstance(node, exp.IsInf):  # Spark has no isinf; an infinity is the only value whose size is infinite
        infinity = exp.Cast(this=exp.Literal.string("Infinity"), to=exp.DataType.build("DOUBLE"))
        return exp.EQ(this=exp.Abs(this=node.this), expression=infinity)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
        return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "list_reduce":
        if len(node.expressions) != 3:
            raise NotPortable("list_reduce needs its initial value (a third argument) to run on Spark")
        items, merge, initial = node.expressions
        return exp.Anonymous(this="AGGREGATE", expressions=[items, initial, merge])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in _DUCKDB_ONLY:
        raise NotPortable(f"{node.this}() is DuckDB's own and has no Spark equivalent; "
                          "sum with study.engine.sources.exact_sum_sql instead")
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.INT128, exp.DataType.Type.UINT128):
        raise NotPortable("HUGEINT has no Spark type; cast to DECIMAL(38, 0) instead")
    if isinstance(node, (exp.Min, exp.Max)) and (node.expressions or node.args.get("count") is not None):
        raise NotPortable(f"{node.key}(x, n) is DuckDB's top-n list and has no Spark equivalent")
    return node


def _is_integer_sum(node: exp.Expression) -> bool:
    return isinstance(node, exp.Sum) and isinstance(node.this, exp.Cast) and node.this.to.this == exp.DataType.Type.BIGINT


def _split_sum(total: exp.Sum, where: exp.Expression | None) -> exp.Expression:
    """``SUM(x)`` of BIGINTs as ``CAST(SUM(x >> 31) AS DECIMAL(38, 0)) * 2**31 + SUM(x & (2**31 - 1))``: the
    same integer, with BIGINT additions that cannot overflow below 2**32 rows a group, and one DECIMAL step
    a group (measured: twice as fast as summing each row as a DECIMAL, as fast as a sum of doubles)."""
    value = total.this

    def summed(part: exp.Expression) -> exp.Expression:
        return exp.Filter(this=exp.Sum(this=part), expression=where.copy()) if where is not None else exp.Sum(this=part)

    high = summed(exp.Anonymous(this="SHIFTRIGHT", expressions=[value.copy(), exp.Literal.number(31)]))
    low = summed(exp.BitwiseAnd(this=value.copy(), expression=exp.Literal.number(2**31 - 1)))
    widened = exp.Cast(this=high, to=exp.DataType.build("DECIMAL(38, 0)"))
    return exp.Paren(this=exp.Add(this=exp.Mul(this=widened, expression=exp.Literal.number(2**31)), expression=low))


def _widen_sums(node: exp.Expression) -> exp.Expression:
    # DuckDB sums BIGINT into HUGEINT; Spark's BIGINT sum would overflow (an error, ANSI on) past 2**63.
    if isinstance(node, exp.Filter) and _is_integer_sum(node.this):
        return _split_sum(node.this, node.expression)
    if _is_integer_sum(node) and not isinstance(node.parent, exp.Filter):
        return _split_sum(node, None)
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
    generator = Dialect.get_or_raise("spark").generator()
    # sqlglot writes Spark as Hive, hoisting a subquery's WITH to the top, where two subqueries' CTEs of the same
    # name collide (or one would silently stand for the other); Spark 3 and later read nested WITH as written.
    generator.EXPRESSIONS_WITHOUT_NESTED_CTES = set()
    return generator.generate(statements[0].transform(_fix).transform(_widen_sums))
