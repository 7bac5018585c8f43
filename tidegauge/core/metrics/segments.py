"""Segments: row counts, null rates and means per segment of one or two columns, the top
segments by volume keeping their key and the rest folded into ``__other__``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlglot import exp

from tidegauge.core.metrics.capabilities import Capabilities
from tidegauge.core.metrics.expressions import _as_text, _col
from tidegauge.core.metrics.names import NULL_VALUE, OTHER
from tidegauge.core.metrics.profile import Agg, ProfilePlan, build_profile_plan
from tidegauge.core.metrics.timeframe import BucketSpec, Window, _window_filter
from tidegauge.core.model import ColumnInfo

__all__ = ["SEGMENT_AGGS", "build_segment_plan", "segment_key"]


def segment_key(columns: Sequence[ColumnInfo]) -> exp.Expr:
    """``'a=' || COALESCE(CAST(a AS TEXT), '__null__') || '|b=' || ...`` as one string."""
    parts: list[exp.Expr] = []
    for i, c in enumerate(columns):
        parts.append(exp.Literal.string(("|" if i else "") + f"{c.name}="))
        parts.append(
            exp.Coalesce(
                this=_as_text(c, _col(c.name)), expressions=[exp.Literal.string(NULL_VALUE)]
            )
        )
    return exp.Concat(expressions=parts)


SEGMENT_AGGS = (Agg.NONNULL, Agg.MEAN)


def build_segment_plan(
    table: exp.Table,
    columns: Sequence[ColumnInfo],
    by: Sequence[ColumnInfo],
    caps: Capabilities,
    *,
    max_segments: int,
    bucket: BucketSpec | None = None,
    window: Window | None = None,
    now: datetime | None = None,
    exclude: Collection[str] = (),
) -> ProfilePlan:
    """Row count, null rates and means per segment of ``by`` (one or two columns).

    The ``max_segments`` largest segments by row count over the window keep their key
    (``"a=x"`` or ``"a=x|b=y"``); all others are grouped as ``__other__``.
    """
    if not 1 <= len(by) <= 2:
        raise ValueError("a segment groups by one or two columns")
    key = segment_key(by)
    top = (
        exp.select(exp.alias_(key.copy(), "k"))
        .from_(table.copy())
        .group_by(key.copy())
        .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True))
        .limit(max_segments)
    )
    spec = bucket.effective() if bucket else None
    where = _window_filter(spec, window, caps)
    if where is not None:
        top = top.where(where)
    # The extra derived table keeps MySQL happy ("LIMIT & IN subquery" is unsupported).
    inner = exp.select("k").from_(top.subquery("s"))
    seg = exp.Case(
        ifs=[exp.If(this=key.copy().isin(query=inner), true=key.copy())],
        default=exp.Literal.string(OTHER),
    )
    skip = {c.name.lower() for c in by} | {e.lower() for e in exclude}
    return build_profile_plan(
        table,
        [c for c in columns if c.name.lower() not in skip],
        caps,
        bucket=spec,
        window=window,
        now=now,
        only=SEGMENT_AGGS,
        segment=seg,
    )
