"""The small sqlglot pieces every plan shares: quoted columns, text casts, sampling and
conditional counts, each written the way the engine's :class:`Capabilities` allow."""

from __future__ import annotations

from sqlglot import exp

from tidegauge.core.metrics.capabilities import Capabilities
from tidegauge.core.model import ColumnInfo, TypeFamily


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _source(table: exp.Table, caps: Capabilities, sample_percent: float | None) -> exp.Table:
    src = table.copy()
    if sample_percent is not None and sample_percent < 100 and caps.tablesample:
        src.set(
            "sample",
            exp.TableSample(
                method=exp.var("SYSTEM"), percent=exp.Literal.number(round(sample_percent, 6))
            ),
        )
    return src


def _count_if(cond: exp.Expr, caps: Capabilities) -> exp.Expr:
    # COUNT_IF is the fastest where it exists (measured on DuckDB: ~10% over COUNT(CASE));
    # COUNT(CASE WHEN .. THEN 1 END) is portable.
    if caps.count_if:
        return exp.CountIf(this=cond)
    return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))


def _as_text(column: ColumnInfo, expr: exp.Expr) -> exp.Expr:
    t = column.data_type.lower()
    if column.family is TypeFamily.STRING and any(k in t for k in ("char", "text", "string")):
        return expr
    return exp.cast(expr, exp.DataType.build("text"))
