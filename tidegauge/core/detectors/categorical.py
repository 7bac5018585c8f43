"""Categorical columns: new values, vanished values and share shifts.

Input is the history of per-bucket value counts and the bucket(s) under test. Three tests:

- *new value*: a value never (or almost never) seen in history appears. Its historical rate is
  bounded with a Jeffreys-style estimate ``(k + 0.5) / (N + 1)``; the Poisson tail of the count
  now gives a p-value. Columns where unseen values are routine (ids, free text) are recognised
  from history: the share of rows holding values unseen before is learned per bucket, and only an
  abnormally large novel share alerts then.
- *vanished value*: a value present in (almost) every historical bucket with a steady share is
  absent now although ``n × share`` rows were expected: ``P(0) = (1 - share)^n``.
- *share shift*: per value, the share now against its historical per-bucket shares, with a
  variance that is the larger of the binomial one and the between-bucket one (real data are
  over-dispersed, so with millions of rows the binomial alone makes every wobble significant);
  the over-dispersion is pooled across values (Dirichlet-multinomial), unless a value is
  clearly more volatile than the pool; a weighted Bonferroni over values (half evenly, half by
  historical share),
  and an effect-size floor (absolute share change and relative change).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from tidegauge.core.detectors.base import Detection, DetectorSettings, Direction, normal_sf

Counts = Mapping[str, int]

MIN_HISTORY_BUCKETS = 3
MIN_NEW_COUNT = 1
MIN_SHIFT_ABS = 0.02  # two percentage points of rows
MIN_SHIFT_REL = 0.25  # and a quarter of the value's usual share
MIN_VANISH_EXPECTED = 5.0  # rows a value would have had for its absence to mean anything


def _poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    term = math.exp(-lam)
    cdf = term
    for i in range(1, k):
        term *= lam / i
        cdf += term
        if term < 1e-300:
            break
    return max(0.0, 1.0 - cdf) if cdf < 0.999999 else _poisson_upper_direct(k, lam)


def _poisson_upper_direct(k: int, lam: float) -> float:
    log_term = -lam + k * math.log(lam) - math.lgamma(k + 1)
    total, term = 0.0, math.exp(log_term)
    i = k
    while term > 1e-300 and i < k + 10_000:
        total += term
        i += 1
        term *= lam / i
        if term < total * 1e-16:
            break
    return min(1.0, total)


@dataclass
class CategoricalDetector:
    """New / vanished / shifted values of one categorical column."""

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    column: str = "column"
    min_shift_abs: float = MIN_SHIFT_ABS
    min_shift_rel: float = MIN_SHIFT_REL

    def evaluate(
        self,
        history: Sequence[tuple[datetime, Counts]],
        current: Sequence[tuple[datetime, Counts]] | tuple[datetime, Counts],
    ) -> list[Detection]:
        """Anomalies in the current bucket(s) against the history (no bucket is in both)."""
        cur = [current] if isinstance(current, tuple) else list(current)
        hist = sorted(history, key=lambda b: b[0])
        cur_times = {ts for ts, _ in cur}
        hist = [b for b in hist if b[0] not in cur_times]
        if len(hist) < MIN_HISTORY_BUCKETS or not cur:
            return []
        when = min(ts for ts, _ in cur)
        now: dict[str, int] = {}
        for _, c in cur:
            for v, k in c.items():
                now[v] = now.get(v, 0) + int(k)
        n_now = sum(now.values())
        if n_now <= 0:
            return []
        alpha = self.settings.point_alpha(1.0)
        out = self._new_values(hist, now, n_now, when, alpha)
        for d in out:
            if d.details.get("kind") == "category_new_value" and "count" in d.details:
                _date_first_appearance(d, sorted(cur, key=lambda b: b[0]), self.column)
        out += self._vanished(hist, now, n_now, when, alpha)
        shift = self._shift(hist, now, n_now, when, alpha)
        if shift is not None:
            out.append(shift)
        return out

    # -- new values --------------------------------------------------------------------------

    def _new_values(
        self,
        hist: Sequence[tuple[datetime, Counts]],
        now: dict[str, int],
        n_now: int,
        when: datetime,
        alpha: float,
    ) -> list[Detection]:
        totals: dict[str, int] = {}
        seen: set[str] = set()
        novel_share: list[float] = []
        for _, c in hist:
            n_b = sum(c.values())
            fresh = sum(k for v, k in c.items() if v not in seen)
            if seen and n_b > 0:
                novel_share.append(fresh / n_b)
            seen.update(c)
            for v, k in c.items():
                totals[v] = totals.get(v, 0) + int(k)
        n_hist = sum(totals.values())
        routine = bool(novel_share) and float(np.mean(np.array(novel_share) > 0)) >= 0.2
        candidates = {
            v: k
            for v, k in now.items()
            if totals.get(v, 0) <= max(0.0, 1e-4 * n_hist) and k >= MIN_NEW_COUNT
        }
        if not candidates:
            return []
        out: list[Detection] = []
        if routine:
            # unseen values are normal here: alert only on an abnormal novel share
            shares = np.array(novel_share)
            novel_now = sum(candidates.values()) / n_now
            med = float(np.median(shares))
            mad = 1.4826 * float(np.median(np.abs(shares - med)))
            sd = max(mad, math.sqrt(max(med, 1e-6) * (1 - med) / n_now), 0.01)
            z = (novel_now - med) / sd
            p = float(normal_sf(z))
            if p <= alpha and novel_now - med >= self.min_shift_abs:
                top = max(candidates, key=lambda v: candidates[v])
                out.append(
                    Detection(
                        True,
                        when,
                        observed=novel_now,
                        expected=med,
                        upper=med + 4 * sd,
                        score=z,
                        p_value=p,
                        training_points=len(hist),
                        direction=Direction.UP,
                        reason=(
                            f"{novel_now:.0%} of rows in {self.column} hold values never seen "
                            f"before (usually {med:.1%}), e.g. `{top}`"
                        ),
                        details={
                            "kind": "category_new_value",
                            "value": top,
                            "values": sorted(candidates),
                            "routine_novelty": True,
                        },
                    )
                )
            return out
        for v, k in sorted(candidates.items(), key=lambda kv: -kv[1]):
            rate = (totals.get(v, 0) + 0.5) / (n_hist + 1)
            p = _poisson_sf(k, rate * n_now)
            if p > alpha:
                continue
            share = k / n_now
            out.append(
                Detection(
                    True,
                    when,
                    observed=share,
                    expected=totals.get(v, 0) / max(n_hist, 1),
                    score=-math.log10(max(p, 1e-300)),
                    p_value=p,
                    training_points=len(hist),
                    direction=Direction.UP,
                    reason=(
                        f"new value `{v}` in {self.column}: {share:.0%} of rows "
                        f"({k:,} of {n_now:,}) since {when:%Y-%m-%d %H:%M}, never seen in "
                        f"{len(hist)} buckets ({n_hist:,} rows)"
                    ),
                    details={"kind": "category_new_value", "value": v, "count": k, "share": share},
                )
            )
        return out

    # -- vanished values ---------------------------------------------------------------------

    def _vanished(
        self,
        hist: Sequence[tuple[datetime, Counts]],
        now: dict[str, int],
        n_now: int,
        when: datetime,
        alpha: float,
    ) -> list[Detection]:
        values = {v for _, c in hist for v in c}
        out: list[Detection] = []
        for v in sorted(values):
            if now.get(v, 0) > 0:
                continue
            shares = np.array(
                [c.get(v, 0) / max(sum(c.values()), 1) for _, c in hist if sum(c.values()) > 0]
            )
            if shares.size < MIN_HISTORY_BUCKETS or np.mean(shares > 0) < 0.9:
                continue
            share = float(np.median(shares))
            expected_rows = share * n_now
            if expected_rows < MIN_VANISH_EXPECTED:
                continue
            p = math.exp(n_now * math.log1p(-min(share, 1 - 1e-12)))
            if p > alpha:
                continue
            out.append(
                Detection(
                    True,
                    when,
                    observed=0.0,
                    expected=share,
                    lower=0.0,
                    score=-math.log10(max(p, 1e-300)),
                    p_value=p,
                    training_points=len(hist),
                    direction=Direction.DOWN,
                    reason=(
                        f"value `{v}` vanished from {self.column}: 0 of {n_now:,} rows, "
                        f"usually {share:.1%} (~{expected_rows:,.0f} rows), present in "
                        f"{np.mean(shares > 0):.0%} of {shares.size} past buckets"
                    ),
                    details={"kind": "category_vanished", "value": v, "expected_share": share},
                )
            )
        return out

    # -- share shift -------------------------------------------------------------------------

    def _shift(
        self,
        hist: Sequence[tuple[datetime, Counts]],
        now: dict[str, int],
        n_now: int,
        when: datetime,
        alpha: float,
    ) -> Detection | None:
        values = sorted({v for _, c in hist for v in c})
        if not values:
            return None
        mat = np.array([[c.get(v, 0) for v in values] for _, c in hist], dtype=np.float64)
        n_b = mat.sum(axis=1)
        keep = n_b > 0
        if np.count_nonzero(keep) < MIN_HISTORY_BUCKETS:
            return None
        shares = mat[keep] / n_b[keep, None]
        base = np.median(shares, axis=0)
        between = 1.4826 * np.median(np.abs(shares - base), axis=0)
        cur = np.array([now.get(v, 0) for v in values], dtype=np.float64) / n_now
        bvar = np.maximum(base * (1 - base), 1e-12)
        binom = np.sqrt(bvar / n_now)
        nb = shares.shape[0]
        # Over-dispersion pooled across values (Dirichlet-multinomial: a bucket's share varies
        # by base(1 - base)(1/rows + c)); one c from every value and bucket is far steadier
        # than each value's own MAD from a few dozen buckets. A value that is clearly more
        # volatile than the pool keeps its own spread.
        n_typ = float(np.median(n_b[keep]))
        pool = (base * n_typ >= 5) & (base < 1)
        if np.count_nonzero(pool) >= 2:
            r2 = (shares[:, pool] - base[pool]) ** 2 / bvar[pool]
            c = float(np.median(r2)) / 0.4549 - float(np.median(1.0 / n_b[keep]))
            pooled = np.sqrt(bvar * (max(c, 0.0) + 1.0 / n_now))
        else:
            pooled = between
        sd = np.maximum.reduce([binom, pooled, between / 1.4]) * math.sqrt(1 + 1 / nb)
        z = (cur - base) / sd
        # weighted Bonferroni: the test level is spent half evenly, half by historical share
        # (weights fixed by history, so the family-wise level stays alpha): a shift in a value
        # that carries many rows needs less luck to be seen than one in a rare value
        weight = 0.5 * base / max(float(base.sum()), 1e-12) + 0.5 / len(values)
        p = np.minimum(1.0, 2 * normal_sf(np.abs(z)) / weight)
        delta = cur - base
        effect = (np.abs(delta) >= self.min_shift_abs) & (
            np.abs(delta) >= self.min_shift_rel * np.maximum(base, 1e-12)
        )
        hits = np.flatnonzero((p <= alpha) & effect & (base > 0))
        if hits.size == 0:
            return None
        top = int(hits[np.argmax(np.abs(delta[hits]))])
        v = values[top]
        movers = {values[i]: {"share": float(cur[i]), "expected": float(base[i])} for i in hits}
        tvd = 0.5 * float(np.sum(np.abs(cur - base)))
        return Detection(
            True,
            when,
            observed=float(cur[top]),
            expected=float(base[top]),
            lower=float(max(0.0, base[top] - 4 * sd[top])),
            upper=float(base[top] + 4 * sd[top]),
            score=float(z[top]),
            p_value=float(p[top]),
            training_points=nb,
            direction=Direction.UP if delta[top] > 0 else Direction.DOWN,
            reason=(
                f"share of `{v}` in {self.column} moved to {cur[top]:.1%} from a usual "
                f"{base[top]:.1%} ({len(hits)} value(s) shifted; total variation "
                f"{tvd:.1%}; learned from {nb} buckets)"
            ),
            details={
                "kind": "category_shift",
                "value": v,
                "movers": movers,
                "total_variation": tvd,
            },
        )


def _date_first_appearance(
    d: Detection, cur: Sequence[tuple[datetime, Counts]], column: str
) -> None:
    """Date a new value from the first bucket that holds it, not from the start of the
    tested window: a value injected at 13:00 in a window from 10:00 reads "since 13:00",
    with its rows and all rows from then on, and the rows before it in the window."""
    v = str(d.details["value"])
    first = next((ts for ts, c in cur if int(c.get(v, 0)) > 0), None)
    if first is None:
        return
    after = [c for ts, c in cur if ts >= first]
    count = sum(int(c.get(v, 0)) for c in after)
    total = sum(int(k) for c in after for k in c.values())
    before = sum(int(k) for ts, c in cur if ts < first for k in c.values())
    d.details.update(first_seen=first.isoformat(), count=count, total=total, rows_before=before)
    d.reason = (
        f"new value `{v}` in {column}: {count:,} of {total:,} "
        f"rows ({count / max(total, 1):.0%}) since {first:%Y-%m-%d %H:%M}; "
        f"before it, never seen"
    )
