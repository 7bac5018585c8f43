"""Holiday calendars in metric detection: special days leave training, a holiday dip is not
an alert (or is tested against a learned holiday level), and an outage on a holiday still is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from tidegauge.core.calendar import SpecialDays, special_days
from tidegauge.core.detectors.backtest import backtest
from tidegauge.core.detectors.base import Detection
from tidegauge.core.detectors.seasonal import SeasonalDetector

T0 = datetime(2024, 1, 1)  # a Monday
US = "US"


def daily(days: int, seed: int = 0) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = [T0 + timedelta(days=i) for i in range(days)]
    dow = np.arange(days) % 7
    mu = 2000 * np.where(dow >= 5, 0.6, 1.0) * rng.lognormal(0, 0.03, days)
    return ts, rng.poisson(mu).astype(float)


def hourly(days: int, seed: int = 0, start: datetime = T0) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    n = days * 24
    ts = [start + timedelta(hours=i) for i in range(n)]
    h = np.array([t.hour for t in ts])
    dow = np.array([t.weekday() for t in ts])
    mu = 400 * (1 + 0.5 * np.sin(2 * np.pi * (h - 8) / 24)) * np.where(dow >= 5, 0.6, 1.0)
    return ts, rng.poisson(mu * rng.lognormal(0, 0.03, n)).astype(float)


def cal(*days: date, **kw: object) -> SpecialDays:
    return SpecialDays(frozenset(days), US, **kw)  # type: ignore[arg-type]


def on(dets: list[Detection], day: datetime) -> list[Detection]:
    return [d for d in dets if day <= d.timestamp < day + timedelta(days=1)]


# -- training ---------------------------------------------------------------------------------


def test_special_days_never_train_the_baseline() -> None:
    ts, y = daily(70)
    hol = ts[40]
    y[40] *= 0.3
    plain = SeasonalDetector().evaluate(ts, y, test_from=ts[-1])[0]
    with_cal = SeasonalDetector(calendar=cal(hol.date())).evaluate(ts, y, test_from=ts[-1])[0]
    assert with_cal.training_points == plain.training_points - 1


def test_hourly_special_day_leaves_training_whole() -> None:
    ts, y = hourly(30)
    hol = datetime(2024, 1, 17)  # a Wednesday, all 24 hours
    plain = SeasonalDetector().evaluate(ts, y, test_from=ts[-1])[0]
    with_cal = SeasonalDetector(calendar=cal(hol.date())).evaluate(ts, y, test_from=ts[-1])[0]
    assert with_cal.training_points == plain.training_points - 24


def test_a_shutdown_in_training_does_not_blind_the_weeks_after() -> None:
    # ten special days at 40% (a year-end shutdown) are too many to be rejected as outliers:
    # if they trained, the band after them would be several times wider
    ts, y = daily(90)
    clean = SeasonalDetector().evaluate(ts, y, test_from=ts[-14])
    y[50:60] *= 0.4
    shutdown = cal(*(ts[i].date() for i in range(50, 60)))
    det = SeasonalDetector(calendar=shutdown).evaluate(ts, y, test_from=ts[-14])
    for a, b in zip(det, clean, strict=True):
        assert a.expected == pytest.approx(b.expected, rel=0.03)
        assert (a.upper - a.lower) == pytest.approx(b.upper - b.lower, rel=0.25)  # type: ignore[operator]


# -- testing a special day --------------------------------------------------------------------


def test_holiday_dip_is_not_alerted_with_a_calendar_and_is_without() -> None:
    ts, y = daily(70)
    hol = ts[-3]  # a Friday
    y[-3] *= 0.6
    plain = on(SeasonalDetector().evaluate(ts, y, test_from=ts[-10]), hol)
    assert plain[0].is_anomaly  # no detector can know without a calendar
    d = on(
        SeasonalDetector(metric="row count", calendar=cal(hol.date())).evaluate(
            ts, y, test_from=ts[-10]
        ),
        hol,
    )[0]
    assert not d.is_anomaly
    assert "holiday (calendar: US" in d.reason and "not alerted" in d.reason
    assert d.details["special_day"] == hol.date().isoformat()
    assert d.details["special_day_test"] == "not_alerted"
    assert d.p_value > 0.01  # it does not crowd the run's false-discovery control either


def test_outage_on_a_holiday_still_alerts() -> None:
    ts, y = daily(70)
    hol = ts[-3]
    y[-3] = 0.0
    d = on(
        SeasonalDetector(metric="row count", calendar=cal(hol.date())).evaluate(
            ts, y, test_from=ts[-10]
        ),
        hol,
    )[0]
    assert d.is_anomaly
    assert d.details["special_day_test"] == "floor"
    assert "floor" in d.reason and "calendar: US" in d.reason


def test_the_floor_is_a_configurable_share() -> None:
    ts, y = daily(70)
    hol = ts[-3]
    y[-3] *= 0.35
    quiet = on(SeasonalDetector(calendar=cal(hol.date())).evaluate(ts, y, test_from=ts[-10]), hol)[
        0
    ]
    strict = on(
        SeasonalDetector(calendar=cal(hol.date(), floor=0.6)).evaluate(ts, y, test_from=ts[-10]),
        hol,
    )[0]
    assert not quiet.is_anomaly and strict.is_anomaly


def test_a_spike_on_a_holiday_is_still_news() -> None:
    # holidays go down by default: a tripled load on Christmas is not explained by it
    ts, y = daily(70)
    hol = ts[-3]
    y[-3] *= 3.0
    d = on(SeasonalDetector(calendar=cal(hol.date())).evaluate(ts, y, test_from=ts[-10]), hol)[0]
    assert d.is_anomaly and d.details["special_day_test"] == "as_usual"
    up = on(
        SeasonalDetector(calendar=cal(hol.date(), expect="up")).evaluate(ts, y, test_from=ts[-10]),
        hol,
    )[0]
    assert not up.is_anomaly  # a retailer's Black Friday: up is what its holidays do


def test_hourly_holiday_is_quiet_and_the_day_after_too() -> None:
    ts, y = hourly(35)
    hol = datetime(2024, 2, 1)  # Thursday, in the last week
    day = np.array([hol <= t < hol + timedelta(days=1) for t in ts])
    y[day] = np.round(y[day] * 0.6)
    start = hol - timedelta(days=2)
    plain = SeasonalDetector().evaluate(ts, y, test_from=start)
    assert sum(d.is_anomaly for d in on(plain, hol)) >= 6
    dets = SeasonalDetector(calendar=cal(hol.date())).evaluate(ts, y, test_from=start)
    assert [d.timestamp for d in dets if d.is_anomaly] == []
    assert all(d.details["special_day_test"] in ("not_alerted", "as_usual") for d in on(dets, hol))


def test_hourly_outage_on_a_holiday_alerts() -> None:
    ts, y = hourly(35)
    hol = datetime(2024, 2, 1)
    day = np.array([hol <= t < hol + timedelta(days=1) for t in ts])
    y[day] = np.round(y[day] * 0.6)
    y[day & (np.array([t.hour for t in ts]) >= 10)] = 0.0  # loads stop at 10:00
    dets = SeasonalDetector(calendar=cal(hol.date())).evaluate(
        ts, y, test_from=hol - timedelta(days=2)
    )
    hits = [d.timestamp for d in dets if d.is_anomaly]
    assert hits and min(hits) <= hol + timedelta(hours=11)
    assert all(d.details.get("special_day_test") == "floor" for d in on(dets, hol) if d.is_anomaly)


def test_the_day_is_the_calendars_local_date() -> None:
    # Christmas in New York runs 05:00 UTC Dec 25 to 05:00 UTC Dec 26
    start = datetime(2023, 11, 20, tzinfo=UTC)
    ts, y = hourly(40, start=start)
    xmas = datetime(2023, 12, 25, 5, tzinfo=UTC)
    day = np.array([xmas <= t < xmas + timedelta(days=1) for t in ts])
    y[day] = np.round(y[day] * 0.5)
    test_from = xmas - timedelta(days=1)
    local = SeasonalDetector(calendar=cal(date(2023, 12, 25), timezone="America/New_York"))
    assert not any(d.is_anomaly for d in local.evaluate(ts, y, test_from=test_from))
    utc = SeasonalDetector(calendar=cal(date(2023, 12, 25)))
    late = [d.timestamp for d in utc.evaluate(ts, y, test_from=test_from) if d.is_anomaly]
    assert late and all(t >= datetime(2023, 12, 26, tzinfo=UTC) for t in late)


def test_holiday_level_is_learned_from_earlier_special_days() -> None:
    # a special day every 9 days at 60% of normal: after a few, a special day is tested
    # against that level, so 60% is expected and 40% is deeper than holidays go
    ts, y = daily(120, seed=4)
    idx = list(range(5, 120, 9))
    y[idx] = np.round(y[idx] * 0.6)
    calendar = cal(*(ts[i].date() for i in idx))
    last = idx[-1]
    d = SeasonalDetector(metric="rows", calendar=calendar).evaluate(ts, y, test_from=ts[last])[0]
    assert not d.is_anomaly and d.details["special_day_test"] == "holiday_level"
    assert d.details["special_day_examples"] >= 3
    assert "expected holiday level" in d.reason
    assert d.expected == pytest.approx(0.6 * d.details["normal_expected"], rel=0.1)
    y[last] = np.round(y[last] / 0.6 * 0.4)
    deeper = SeasonalDetector(calendar=calendar).evaluate(ts, y, test_from=ts[last])[0]
    assert deeper.is_anomaly
    # a detector told nothing about earlier special days would not alert on the 40% day
    only_last = cal(ts[last].date())
    assert (
        not SeasonalDetector(calendar=only_last).evaluate(ts, y, test_from=ts[last])[0].is_anomaly
    )


def test_backtest_replays_with_the_calendar() -> None:
    ts, y = daily(120)
    hols = [ts[60].date(), ts[100].date()]
    for i in (60, 100):
        y[i] *= 0.5
    assert backtest(ts, y, days=70).alerts >= 2
    assert backtest(ts, y, days=70, calendar=cal(*hols)).alerts == 0


# -- the calendar itself ----------------------------------------------------------------------


def test_a_daily_bucket_belongs_to_the_date_it_mostly_covers() -> None:
    c = cal(date(2024, 12, 25), timezone="America/Los_Angeles")
    stamps = [datetime(2024, 12, 24), datetime(2024, 12, 25), datetime(2024, 12, 26)]
    assert c.mask(stamps, 86400).tolist() == [False, True, False]
    tokyo = cal(date(2024, 12, 25), timezone="Asia/Tokyo")
    hours = [datetime(2024, 12, 24, 14), datetime(2024, 12, 24, 15)]  # UTC: 23:00, 00:00 JST
    assert tokyo.mask(hours, 3600).tolist() == [False, True]


def test_country_calendar_and_own_dates() -> None:
    sd = special_days(
        years=[2026],
        country="us",
        subdivision="CA",
        dates=[date(2026, 11, 27)],
        ranges=[(date(2026, 12, 28), date(2026, 12, 31))],
    )
    assert {
        date(2026, 12, 25),
        date(2026, 7, 3),
        date(2026, 11, 27),
        date(2026, 12, 30),
    } <= sd.dates  # July 4 is a Saturday: observed on the 3rd
    assert sd.label == "US-CA + 5 dates"
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        special_days(years=[2026], country="XX")
    with pytest.raises(ValueError, match="time zone"):
        SpecialDays(frozenset(), timezone="Nowhere/Land")
