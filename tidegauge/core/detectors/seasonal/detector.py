"""The live seasonal detector: walk forward, one point at a time, against earlier points only.

A run of same-side alerts is taken as a level shift and learned; if the series then comes back
to the old level (a holiday, an outage), the shift is recognised as a temporary episode: the
changepoint is dropped and the episode leaves training, so the day after does not alert again.
Special days (a calendar) never train a baseline and are tested by :mod:`..special`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from tidegauge.core.calendar import SpecialDays
from tidegauge.core.detectors import special as sp
from tidegauge.core.detectors.base import (
    Detection,
    DetectorSettings,
    Direction,
    FloatArray,
    fmt_number,
)
from tidegauge.core.detectors.feedback import FeedbackEffect, compile_feedback
from tidegauge.core.detectors.seasonal.model import (
    BoolArray,
    Fit,
    Series,
    Spec,
    Timestamps,
    Transform,
    Values,
    _epoch_sow,
    fit_baseline,
    prepare,
    to_datetimes,
)
from tidegauge.core.detectors.seasonal.scoring import PointScore, decide, explain, score_points
from tidegauge.core.model import Feedback

#: a series whose training history takes at most this many distinct values (over at least
#: DISCRETE_MIN_HISTORY points) is discrete: see SeasonalDetector._seen_before
DISCRETE_MAX_VALUES = 12
DISCRETE_MIN_HISTORY = 50

# ---------------------------------------------------------------------------------------------
# the detector


@dataclass
class SeasonalDetector:
    """Seasonal, trend-aware, robust detector for one metric series.

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2024, 1, 1)
    >>> ts = [t0 + timedelta(days=i) for i in range(40)]
    >>> ys = [100.0 + (i % 7) for i in range(39)] + [20.0]
    >>> det = SeasonalDetector(DetectorSettings()).evaluate(ts, ys, test_from=ts[-1])
    >>> det[0].is_anomaly
    True
    """

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    metric: str = "value"
    refit_every: int | None = None
    #: holidays and other special days: they never train a baseline and are tested as
    #: :mod:`~tidegauge.core.detectors.special` describes
    calendar: SpecialDays | None = None
    #: whether the metric counts things (rows, values): its noise is then Poisson at the count
    #: plus a multiplicative part. None: when the metric's name says ``count``. An integer
    #: median of amounts is not a count.
    counts: bool | None = None

    @property
    def counts_things(self) -> bool:
        return self.counts if self.counts is not None else "count" in self.metric.lower()

    def evaluate(
        self,
        timestamps: Timestamps,
        values: Values,
        *,
        test_from: datetime,
        exclude: Sequence[datetime] | npt.NDArray[np.bool_] | None = None,
        feedback: Sequence[tuple[datetime, Feedback | str]] | FeedbackEffect | None = None,
    ) -> list[Detection]:
        """Test every point at or after ``test_from`` against the points strictly before it.

        Points this call flags stay out of later baselines, unless a run of
        ``shift_accept_points`` same-side alerts shows a level shift, which is then learned.
        Points on the calendar's special days never train a baseline and never start a level
        shift; they are tested by the special-day rules (:mod:`.special`).
        """
        s = prepare(timestamps, values)
        cfg = self.settings
        eff = feedback if isinstance(feedback, FeedbackEffect) else compile_feedback(feedback or ())
        n = s.y.size
        usable = np.isfinite(s.y)
        if exclude is not None:
            if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
                ex = np.asarray(exclude, dtype=bool)
                if ex.size != n:
                    raise ValueError("exclude mask must match the (deduplicated) series")
                usable &= ~ex
            else:
                ex_t = {_epoch_sow(d)[0] for d in to_datetimes(exclude)}
                usable &= ~np.isin(s.t, np.array(sorted(ex_t), dtype=np.float64))
        fb_mask = eff.training_mask(s.stamps)
        usable &= fb_mask
        cal = self.calendar
        special = np.zeros(n, dtype=bool)
        day_of: list[date] = []
        if cal is not None and cal.dates:
            day_of = cal.local_dates(s.stamps, s.bucket)
            special = np.fromiter((d in cal.dates for d in day_of), dtype=bool, count=n)
        examples_ok = usable & special  # earlier special days that may teach a holiday level
        usable &= ~special
        forced = np.array([d in eff.include for d in s.stamps], dtype=bool)
        changepoints = [_epoch_sow(c)[0] for c in eff.changepoints]
        band_factor = cfg.band_factor * eff.band_factor
        alpha = cfg.point_alpha(s.points_per_day)
        test_t = _epoch_sow(test_from)[0] if isinstance(test_from, datetime) else float(test_from)
        test_idx = np.flatnonzero(s.t >= test_t)
        refit = self.refit_every or max(1, round(s.points_per_day / 4))
        accept = cfg.shift_accept_points or max(3, round(s.points_per_day / 4))
        window = cfg.training_seconds(s.bucket)
        flagged = np.zeros(n, dtype=bool)
        run: list[int] = []
        run_sign = 0
        auto_cp: list[tuple[float, int, int]] = []  # accepted shifts: time, index, sign
        out: list[Detection] = []
        fit: Fit | None = None
        tr_cache: tuple[Transform, int, Spec] | None = None
        since_fit = refit
        for i in (int(k) for k in test_idx):
            ts = s.stamps[i]
            if not np.isfinite(s.y[i]):
                out.append(
                    Detection(
                        False,
                        ts,
                        observed=None,
                        reason=f"{self.metric} is missing",
                        details={"status": "missing"},
                    )
                )
                continue
            train = usable & (s.t < s.t[i]) & (s.t >= s.t[i] - window) & (~flagged | forced)
            n_train = int(np.count_nonzero(train))
            if n_train < cfg.min_history:
                out.append(
                    Detection(
                        False,
                        ts,
                        observed=float(s.y[i]),
                        training_points=n_train,
                        reason=f"learning: {n_train} of {cfg.min_history} points of history",
                        details={"status": "learning"},
                    )
                )
                fit = None
                continue
            if fit is None or since_fit >= refit:
                # the transform and the seasonality are re-chosen only as history grows
                # materially (choosing them is most of the cost of a fit)
                if tr_cache is None or n_train > 1.5 * tr_cache[1]:
                    tr_cache = None
                fit = fit_baseline(
                    s.t[train],
                    s.sow[train],
                    s.y[train],
                    s.bucket,
                    changepoints,
                    transform=tr_cache[0] if tr_cache else None,
                    spec=tr_cache[2] if tr_cache else None,
                    previous=fit if tr_cache else None,
                    count_noise=self.counts_things,
                )
                if tr_cache is None:
                    tr_cache = (fit.transform, n_train, fit.spec)
                since_fit = 0
            since_fit += 1
            ps, det = self._test_point(fit, s, i, alpha, band_factor)
            if det.is_anomaly and not forced[i]:
                det = self._seen_before(det, s.y[train], alpha)
            if special[i]:
                ok = examples_ok & (~flagged | forced) & (s.t >= s.t[i] - window)
                det = self._special_day(ps, det, fit, s, i, day_of, ok, alpha, band_factor)
                out.append(det)
                if det.is_anomaly and not forced[i]:
                    flagged[i] = True
                run, run_sign = [], 0  # a holiday is not the start of a new level
                continue
            sign = int(np.sign(ps.z))
            if det.is_anomaly and not forced[i] and auto_cp and sign == -auto_cp[-1][2]:
                # back the other way after an accepted shift: was it a temporary episode (a
                # holiday, an outage) rather than a new level? Test against the old level.
                cp_t, cp_i, _ = auto_cp[-1]
                alt_cps = [c for c in changepoints if c != cp_t]
                episode = np.zeros(n, dtype=bool)
                episode[cp_i:i] = True
                alt_train = train & ~episode
                if np.count_nonzero(alt_train) >= cfg.min_history:
                    alt_fit = fit_baseline(
                        s.t[alt_train],
                        s.sow[alt_train],
                        s.y[alt_train],
                        s.bucket,
                        alt_cps,
                        transform=tr_cache[0] if tr_cache else None,
                        spec=tr_cache[2] if tr_cache else None,
                        count_noise=self.counts_things,
                    )
                    alt_ps, alt_det = self._test_point(alt_fit, s, i, alpha, band_factor)
                    if not alt_det.is_anomaly:
                        changepoints = alt_cps
                        flagged |= episode & ~forced
                        auto_cp.pop()
                        fit, ps, det, since_fit = alt_fit, alt_ps, alt_det, 1
                        det.details["episode_ended"] = True
                        sign = int(np.sign(ps.z))
            out.append(det)
            if det.is_anomaly and not forced[i]:
                flagged[i] = True
                if sign == run_sign:
                    run.append(i)
                else:
                    run, run_sign = [i], sign
                if len(run) >= accept:
                    # a persistent shift: learn the new level from its first point on
                    changepoints = sorted({*changepoints, float(s.t[run[0]])})
                    auto_cp.append((float(s.t[run[0]]), run[0], sign))
                    flagged[run] = False
                    det.details["level_shift_accepted"] = True
                    run, run_sign = [], 0
                    fit = None
            else:
                run, run_sign = [], 0
        return out

    def _test_point(
        self, fit: Fit, s: Series, i: int, alpha: float, band_factor: float
    ) -> tuple[PointScore, Detection]:
        """Score point ``i`` of ``s`` against ``fit`` and decide it: one step of the walk, the
        same for the current baseline and for the old-level baseline of an ended episode."""
        ps = score_points(
            fit,
            s.t[i : i + 1],
            s.sow[i : i + 1],
            s.y[i : i + 1],
            alpha,
            band_factor,
            self.settings.direction,
        )[0]
        return ps, decide(self.settings, self.metric, ps, fit, s.stamps[i], alpha)

    def _special_day(
        self,
        ps: PointScore,
        det: Detection,
        fit: Fit,
        s: Series,
        i: int,
        day_of: list[date],
        ok: BoolArray,
        alpha: float,
        band_factor: float,
    ) -> Detection:
        """The verdict on a point that falls on a special day (policy: :mod:`.special`)."""
        cal = self.calendar
        assert cal is not None
        cfg, tr, ts, today = self.settings, fit.transform, s.stamps[i], day_of[i]
        past = np.array([j for j in np.flatnonzero(ok[:i]) if day_of[j] != today], dtype=np.int64)
        g_past = fit.predict(s.t[past], s.sow[past])[0]
        ex = sp.examples(
            [day_of[j] for j in past], tr.fwd(s.y[past]) - g_past, s.y[past], tr.inv(g_past)
        )
        pt = (fit, s.t[i : i + 1], s.sow[i : i + 1], s.y[i : i + 1], alpha, band_factor)
        diff = ps.observed - ps.expected
        info = {
            "special_day": today.isoformat(),
            "calendar": cal.label,
            "special_day_examples": ex.n,
        }
        # the floor (or ceiling) a holiday stays within, tested like any expectation
        side = Direction.DOWN if diff < 0 else Direction.UP
        share = sp.floor_share(cal, ex) if side is Direction.DOWN else sp.ceiling_share(cal, ex)
        floor_ps: PointScore | None = None
        floor_hit = False
        if diff != 0 and cal.allows(diff) and math.isfinite(share) and ps.expected > 0:
            g_e = tr.fwd(np.array([ps.expected]))
            shift = float((tr.fwd(np.array([share * ps.expected])) - g_e)[0])
            floor_ps = score_points(*pt, side, shift=shift)[0]
            floor_hit = decide(self.settings, self.metric, floor_ps, fit, ts, alpha).is_anomaly
        base = explain(self.metric, ps, fit, ts, True)
        if floor_hit and floor_ps is not None:
            limit = floor_ps.lower if side is Direction.DOWN else floor_ps.upper
            return replace(
                det,
                is_anomaly=True,
                p_value=floor_ps.p_value,
                score=floor_ps.z,
                lower=limit if side is Direction.DOWN else ps.lower,
                upper=limit if side is Direction.UP else ps.upper,
                reason=sp.beyond_floor(base, today, cal, side, share, limit),
                details={**det.details, **info, "special_day_test": "floor"},
            )
        if ex.n >= sp.MIN_EXAMPLES:
            effect, spread = ex.level()
            hp = score_points(
                *pt,
                cfg.direction,
                shift=effect,
                extra_sd=spread * math.sqrt(1.0 + 1.0 / ex.n),
                df=max(2.0, min(fit.df, ex.n - 1.0)),
            )[0]
            hdet = decide(self.settings, self.metric, hp, fit, ts, alpha)
            hdet.reason = sp.holiday_level(
                self.metric,
                hp.observed,
                hp.expected,
                hp.lower,
                hp.upper,
                ps.expected,
                today,
                cal,
                ex.n,
                hdet.is_anomaly,
            )
            hdet.details.update(info, special_day_test="holiday_level", normal_expected=ps.expected)
            return hdet
        if det.is_anomaly and cal.allows(diff):
            if floor_ps is None:  # no floor (``floor: 0``) or nothing to be a share of
                limit = 0.0 if side is Direction.DOWN else math.inf
            else:
                limit = floor_ps.lower if side is Direction.DOWN else floor_ps.upper
            return replace(
                det,
                is_anomaly=False,
                p_value=1.0 if floor_ps is None else floor_ps.p_value,
                lower=limit if side is Direction.DOWN else ps.lower,
                upper=limit if side is Direction.UP else ps.upper,
                reason=sp.not_alerted(base, today, cal, side, share, limit),
                details={**det.details, **info, "special_day_test": "not_alerted"},
            )
        det.reason = sp.noted(det.reason, today, cal)
        det.details.update(info, special_day_test="as_usual")
        return det

    def _seen_before(self, det: Detection, history: FloatArray, alpha: float) -> Detection:
        """A series that takes only a few values (the median of a price list, a count that is
        0, 1 or 2) jumps between them by nature; a jump to a value that has been as far out
        often enough in the training history is not news, however far it is from the band."""
        vals = history[np.isfinite(history)]
        obs, exp_v = det.observed, det.expected
        if obs is None or exp_v is None or vals.size < DISCRETE_MIN_HISTORY:
            return det
        if np.unique(vals).size > DISCRETE_MAX_VALUES:
            return det
        k = int(np.count_nonzero(vals >= obs) if obs > exp_v else np.count_nonzero(vals <= obs))
        p_emp = min(1.0, 2.0 * (k + 1) / (vals.size + 1))
        if k == 0 or p_emp <= alpha:
            return det
        return replace(
            det,
            is_anomaly=False,
            p_value=max(det.p_value, p_emp),
            reason=(
                f"{self.metric} {fmt_number(obs)} is outside the band, but the series takes "
                f"only a few values and was this far out in {k} of the last {vals.size} "
                "buckets"
            ),
            details={
                **det.details,
                "seen_before": {"buckets": k, "of": int(vals.size), "p_value": p_emp},
            },
        )
