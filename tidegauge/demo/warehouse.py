"""Build the demo warehouse: a livestream marketplace in an embedded DuckDB file.

Sellers run live video shows, buyers bid on items during the shows, orders and payments follow.
``raw`` holds what the loaders write (users, shows, bids, orders, payments and support tickets),
``analytics`` holds dbt-style models as views built from ``raw`` with plain SQL, so that column
lineage can be read from the view definitions.

Every number is drawn with numpy from one seed (one independent stream per table), so the same
``seed`` and ``end`` always give the same warehouse; rows reach DuckDB as dicts of numpy arrays
(no pandas, no pyarrow). Hourly event counts are Poisson around a rate with an evening peak, a
weekend lift and ~1 %/week growth. The incidents described by the returned :class:`Scenario`
are injected into the last 30 hours; everything else is clean.

Data times are naive UTC ``TIMESTAMP`` s. Each raw table has ``created_at`` (event time) and
``loaded_at``: loaders run on every hour boundary and stamp a batch with that time, so a row
created in ``[h, h+1h)`` has ``loaded_at = h + 1h`` and at ``end`` every table is fully loaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tidegauge.core.clock import ensure_utc, floor_time
from tidegauge.core.model import AlertKind
from tidegauge.demo.scenario import (
    APPLIED_BY_SCHEMA_CHANGE,
    InjectedIncident,
    Scenario,
)

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
SECOND_US = 1_000_000
_EPOCH = datetime(1970, 1, 1)

# Live shopping by UTC hour of day: trough 03:00-06:00, evening peak 19:00-22:00 (mean 1).
_LIVE_HOURLY_RAW = [
    0.95, 0.65, 0.42, 0.28, 0.22, 0.22, 0.27, 0.36,
    0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 1.00, 1.05,
    1.15, 1.35, 1.70, 2.10, 2.40, 2.30, 1.90, 1.40,
]  # fmt: skip
LIVE_HOURLY = np.array(_LIVE_HOURLY_RAW) / np.mean(_LIVE_HOURLY_RAW)
# Sign-ups follow the shows, but flatter.
SIGNUP_HOURLY = np.sqrt(LIVE_HOURLY) / np.mean(np.sqrt(LIVE_HOURLY))
# Support agents answer tickets mostly in (US) daytime.
_SUPPORT_HOURLY_RAW = [
    0.9, 0.7, 0.5, 0.4, 0.3, 0.3, 0.3, 0.4,
    0.5, 0.6, 0.8, 1.0, 1.2, 1.4, 1.5, 1.6,
    1.6, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 1.0,
]  # fmt: skip
SUPPORT_HOURLY = np.array(_SUPPORT_HOURLY_RAW) / np.mean(_SUPPORT_HOURLY_RAW)
# Monday .. Sunday: weekends are the big live-shopping days (mean 1).
_WEEKLY_RAW = [0.92, 0.90, 0.93, 0.97, 1.05, 1.18, 1.12]
WEEKLY = np.array(_WEEKLY_RAW) / np.mean(_WEEKLY_RAW)
GROWTH_PER_WEEK = 0.01
#: ``raw.users`` also holds the sign-ups of this many days before the 60-day window.
USER_HISTORY_DAYS = 365

# Mean events per hour at ``start`` (before seasonality and growth).
RATE_USERS = 9.0
RATE_SHOWS = 16.0
RATE_BIDS = 400.0
RATE_ORDERS = 90.0
RATE_TICKETS = 4.0

CATEGORIES = ("sneakers", "trading_cards", "fashion", "electronics", "collectibles")
CATEGORY_SHARES = (0.22, 0.35, 0.18, 0.10, 0.15)
CATEGORY_MEDIAN_PRICE = (120.0, 22.0, 38.0, 140.0, 30.0)
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
ORDER_STATUS_SHARES = (0.06, 0.12, 0.14, 0.58, 0.07, 0.03)
NEW_ORDER_STATUS = "partially_refunded"
PAYMENT_METHODS = ("card", "paypal", "apple_pay", "gift_card")
PAYMENT_METHOD_SHARES = (0.60, 0.20, 0.15, 0.05)
PAYMENT_METHOD_NULL_RATE = 0.005
PAYMENT_STATUSES = ("succeeded", "pending", "failed", "refunded")
CARD_BRANDS = ("visa", "mastercard", "amex", "discover")
COUNTRIES = ("US", "CA", "GB", "AU", "DE", "MX")
PLATFORMS = ("ios", "android", "web")
EMAIL_DOMAINS = ("gmail.com", "icloud.com", "yahoo.com", "outlook.com", "hotmail.com")
LANGUAGES = ("en", "es", "fr")
SHOW_STATUSES = ("ended", "live", "cancelled")
COUPONS = ("WELCOME10", "LIVE5", "FREESHIP", "VIP20")
TICKET_CHANNELS = ("chat", "email", "phone")
TICKET_TOPICS = ("shipping", "refund", "payment", "account", "other")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")

# The incidents, relative to ``end``: all start after ``end - 30h``, so that a monitoring run at
# ``end - 30h`` backfills clean history. The volume drop hits an evening peak (18:00-22:00 UTC),
# the one starting in [end - 29h, end - 6h], so that it is large in absolute numbers whatever the
# hour of ``end``.
VOLUME_DROP_HOUR_OF_DAY = 18
VOLUME_DROP_HOURS = 4
VOLUME_DROP_KEEP = 0.30
NEW_VALUE_START = timedelta(hours=-20)
NEW_VALUE_SHARE = 0.15
NULL_SPIKE_START = timedelta(hours=-14)
NULL_SPIKE_HOURS = 6
NULL_SPIKE_RATE = 0.40
LATE_LOAD_HOURS = 8
DROPPED_COLUMN = ("raw.users", "referral_code")

RAW_TABLES = (
    "raw.users",
    "raw.shows",
    "raw.bids",
    "raw.orders",
    "raw.payments",
    "raw.support_tickets",
)
ANALYTICS_VIEWS = (
    "analytics.stg_users",
    "analytics.stg_shows",
    "analytics.stg_bids",
    "analytics.stg_orders",
    "analytics.stg_payments",
    "analytics.fct_orders",
    "analytics.dim_users",
    "analytics.dim_sellers",
    "analytics.show_performance",
    "analytics.daily_revenue",
)
#: Tables with nothing injected: a good detector stays quiet on them.
CLEAN_TABLES = ("raw.bids", "raw.support_tickets")


def demo_end(now: datetime) -> datetime:
    """The end of the last full hour before ``now`` (UTC): the demo's ``end``.

    >>> demo_end(datetime(2026, 3, 1, 12, 34)).isoformat()
    '2026-03-01T12:00:00+00:00'
    """
    return floor_time(ensure_utc(now), 3600)


def build_demo_warehouse(
    path: str | os.PathLike[str], *, end: datetime, days: int = 60, seed: int = 7
) -> Scenario:
    """Write the demo warehouse to ``path`` (replacing any file there) and describe it.

    ``end`` must be a UTC hour boundary (naive datetimes are taken as UTC; see
    :func:`demo_end`); data covers ``[end - days, end)``. The file is closed when this returns,
    so it can be opened read-only at once.
    """
    import duckdb

    end_utc = ensure_utc(end)
    if floor_time(end_utc, 3600) != end_utc:
        raise ValueError(f"end must be a UTC hour boundary, got {end_utc.isoformat()}")
    if days < 3:
        raise ValueError(f"days must be at least 3 (the incidents span 30 hours), got {days}")
    start_utc = end_utc - timedelta(days=days)
    data = _generate(start_utc, end_utc, days, seed)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE SCHEMA analytics")
        for name, (ddl, select) in _raw_tables(seed).items():
            con.execute(f"CREATE TABLE {name} ({ddl})")
            con.register("_demo_src", data[name])
            con.execute(f"INSERT INTO {name} {select} FROM _demo_src")
            con.unregister("_demo_src")
        for name, sql in _models(include_referral_code=True).items():
            con.execute(f"CREATE VIEW {name} AS {sql}")
        for name, comment in _COMMENTS.items():
            kind = "VIEW" if name.startswith("analytics.") else "TABLE"
            con.execute(f"COMMENT ON {kind} {name} IS '{comment}'")
        con.execute("CHECKPOINT")
    finally:
        con.close()

    row_counts = {name: len(arrays["created_at"]) for name, arrays in data.items()}
    return Scenario(
        start=start_utc,
        end=end_utc,
        seed=seed,
        days=days,
        incidents=_incidents(end_utc),
        row_counts=row_counts,
        clean_tables=list(CLEAN_TABLES),
    )


def apply_schema_change(target: Any, *, rebuild_models: bool = True) -> None:
    """Drop ``raw.users.referral_code``: the demo's schema-change incident, applied between runs.

    ``target`` is the warehouse path or an open (writable) DuckDB connection. With
    ``rebuild_models`` (the default) the views that read the column (``analytics.stg_users`` and
    ``analytics.dim_users``) are re-created without it, as the dbt project's next run after the
    change would, so the whole warehouse keeps querying and the removal shows up downstream as a
    schema change too. With ``rebuild_models=False`` they are left as they are and fail at query
    time, like any view over a dropped column. Applying it twice is harmless.
    """
    import duckdb

    table, column = DROPPED_COLUMN
    if isinstance(target, str | os.PathLike):
        con = duckdb.connect(str(target))
        owned = True
    else:
        con = target
        owned = False
    try:
        con.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")
        if rebuild_models:
            for name, sql in _models(include_referral_code=False).items():
                if name in ("analytics.stg_users", "analytics.dim_users"):
                    con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        if owned:
            con.execute("CHECKPOINT")
    finally:
        if owned:
            con.close()


# --------------------------------------------------------------------------------------------
# The incidents


def volume_drop_start(end: datetime) -> datetime:
    """When the orders volume drop starts: the 18:00 UTC in ``[end - 29h, end - 6h]``."""
    earliest = ensure_utc(end) - timedelta(hours=29)
    candidate = floor_time(earliest, 86400) + timedelta(hours=VOLUME_DROP_HOUR_OF_DAY)
    return candidate if candidate >= earliest else candidate + timedelta(days=1)


def _incidents(end: datetime) -> list[InjectedIncident]:
    drop_start = volume_drop_start(end)
    spike_start = end + NULL_SPIKE_START
    late_from = end - timedelta(hours=LATE_LOAD_HOURS)
    return [
        InjectedIncident(
            kind="volume_drop",
            table="raw.orders",
            column=None,
            starts_at=drop_start,
            ends_at=drop_start + timedelta(hours=VOLUME_DROP_HOURS),
            description=(
                f"The orders loader lost {1 - VOLUME_DROP_KEEP:.0%} of the rows for "
                f"{VOLUME_DROP_HOURS} hours of the evening peak: raw.orders has about "
                f"{VOLUME_DROP_KEEP:.0%} of its usual hourly row count in that window "
                "(the payments for the lost orders did arrive)."
            ),
            expected_alert_kind=AlertKind.VOLUME,
            details={"keep_ratio": VOLUME_DROP_KEEP, "hours": VOLUME_DROP_HOURS},
        ),
        InjectedIncident(
            kind="new_category_value",
            table="raw.orders",
            column="status",
            starts_at=end + NEW_VALUE_START,
            description=(
                f"A new enum value '{NEW_ORDER_STATUS}' appears in raw.orders.status on about "
                f"{NEW_VALUE_SHARE:.0%} of the rows from this hour on; downstream models that "
                "test status in ('refunded', 'cancelled') silently miss it."
            ),
            expected_alert_kind=AlertKind.CATEGORY_NEW_VALUE,
            details={"value": NEW_ORDER_STATUS, "share": NEW_VALUE_SHARE},
        ),
        InjectedIncident(
            kind="null_spike",
            table="raw.payments",
            column="method",
            starts_at=spike_start,
            ends_at=spike_start + timedelta(hours=NULL_SPIKE_HOURS),
            description=(
                f"raw.payments.method is NULL on {NULL_SPIKE_RATE:.0%} of the rows for "
                f"{NULL_SPIKE_HOURS} hours (normally {PAYMENT_METHOD_NULL_RATE:.1%})."
            ),
            expected_alert_kind=AlertKind.NULL_RATE,
            details={
                "null_rate": NULL_SPIKE_RATE,
                "baseline_null_rate": PAYMENT_METHOD_NULL_RATE,
                "hours": NULL_SPIKE_HOURS,
            },
        ),
        InjectedIncident(
            kind="late_load",
            table="raw.shows",
            column="loaded_at",
            starts_at=late_from,
            description=(
                f"The shows loader stopped: raw.shows normally loads every hour, but its last "
                f"load was {LATE_LOAD_HOURS} hours before the end of the data (no rows created "
                "since); bids and orders keep referencing the missing shows."
            ),
            expected_alert_kind=AlertKind.FRESHNESS,
            details={"hours_overdue": LATE_LOAD_HOURS, "last_loaded_at": late_from.isoformat()},
        ),
        InjectedIncident(
            kind="dropped_column",
            table=DROPPED_COLUMN[0],
            column=DROPPED_COLUMN[1],
            starts_at=end,
            description=(
                "raw.users.referral_code is dropped. Not in the data when the build returns: "
                "call apply_schema_change(path) between two monitoring runs; it also re-creates "
                "analytics.stg_users and analytics.dim_users, which read the column, without it."
            ),
            expected_alert_kind=AlertKind.SCHEMA_CHANGE,
            applied_by=APPLIED_BY_SCHEMA_CHANGE,
            details={
                "change": "removed",
                "downstream_columns": [
                    "analytics.stg_users.referral_code",
                    "analytics.dim_users.referral_code",
                ],
            },
        ),
    ]


# --------------------------------------------------------------------------------------------
# Generation with numpy: every table is a dict of equally long arrays, times in epoch µs


def _us(value: datetime) -> int:
    """Epoch microseconds of an aware UTC datetime."""
    naive = ensure_utc(value).replace(tzinfo=None)
    return (naive - _EPOCH) // timedelta(microseconds=1)


def _hourly_counts(
    rng: np.random.Generator,
    first_hour_us: int,
    hours: int,
    rate: float,
    hourly: F64,
    origin_us: int,
) -> tuple[I64, I64]:
    """Hour starts and Poisson counts with daily and weekly seasonality and weekly growth."""
    starts = first_hour_us + np.arange(hours, dtype=np.int64) * HOUR_US
    epoch_hours = starts // HOUR_US
    hour_of_day = epoch_hours % 24
    weekday = (epoch_hours // 24 + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    weeks = (starts - origin_us) / (168 * HOUR_US)
    lam = rate * hourly[hour_of_day] * WEEKLY[weekday] * (1.0 + GROWTH_PER_WEEK) ** weeks
    return starts, rng.poisson(lam).astype(np.int64)


def _event_times(rng: np.random.Generator, starts: I64, counts: I64) -> I64:
    """Uniform times within each hour, sorted (ids then grow with time, as auto-increments do)."""
    base = np.repeat(starts, counts)
    return np.sort(base + rng.integers(0, HOUR_US, size=base.size, dtype=np.int64))


def _choice(rng: np.random.Generator, n: int, shares: Sequence[float]) -> I64:
    p = np.asarray(shares, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int64)


def _with_nulls(rng: np.random.Generator, codes: I64, rate: float) -> I64:
    """Codes with ``-1`` (rendered as NULL) on a ``rate`` share of the rows."""
    return np.where(rng.random(codes.size) < rate, -1, codes)


def _pick_existing(rng: np.random.Generator, population: I64, at: I64, skew: float) -> I64:
    """For each time in ``at``, an index into the time-sorted ``population`` existing by then.

    ``skew > 1`` favours the oldest members (established users are the most active).
    """
    available = np.maximum(np.searchsorted(population, at, side="right"), 1)
    picked = np.floor(available * rng.random(at.size) ** skew).astype(np.int64)
    result: I64 = np.minimum(picked, available - 1)
    return result


def _pick_recent(rng: np.random.Generator, started: I64, at: I64, window_us: int) -> I64:
    """For each time in ``at``, an index of a show that started within ``window_us`` before."""
    lo = np.searchsorted(started, at - window_us, side="left")
    hi = np.searchsorted(started, at, side="right")
    lo = np.where(hi > lo, lo, np.maximum(hi - 1, 0))
    span = np.maximum(hi - lo, 1)
    picked = lo + np.floor(rng.random(at.size) * span).astype(np.int64)
    result: I64 = np.minimum(picked, started.size - 1)
    return result


def _lognormal_cents(rng: np.random.Generator, median: F64, sigma: float) -> I64:
    value = np.exp(np.log(median * 100.0) + sigma * rng.standard_normal(median.size))
    return np.maximum(np.round(value), 100).astype(np.int64)


def _generate(start: datetime, end: datetime, days: int, seed: int) -> dict[str, dict[str, Any]]:
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
    r_users, r_shows, r_bids, r_orders, r_payments, r_tickets, r_incidents = streams
    start_us, end_us = _us(start), _us(end)
    hours = days * 24
    prices = np.asarray(CATEGORY_MEDIAN_PRICE)

    # users: a year of sign-ups before the window too, so that buyers and sellers exist.
    user_start = start_us - USER_HISTORY_DAYS * 24 * HOUR_US
    starts, counts = _hourly_counts(
        r_users, user_start, hours + USER_HISTORY_DAYS * 24, RATE_USERS, SIGNUP_HOURLY, start_us
    )
    user_at = _event_times(r_users, starts, counts)
    n_users = user_at.size
    is_seller = r_users.random(n_users) < 0.06
    birth_year = np.clip(np.round(r_users.normal(1992, 10, n_users)), 1940, 2008).astype(np.int64)
    users = {
        "user_id": np.arange(1, n_users + 1, dtype=np.int64),
        "created_at": user_at,
        "country": _choice(r_users, n_users, (0.72, 0.09, 0.07, 0.05, 0.04, 0.03)),
        "platform": _choice(r_users, n_users, (0.47, 0.33, 0.20)),
        "email_domain": _with_nulls(
            r_users, _choice(r_users, n_users, (0.45, 0.25, 0.12, 0.10, 0.08)), 0.003
        ),
        "is_seller": is_seller,
        "has_referral_code": r_users.random(n_users) < 0.88,
        "birth_year": np.where(r_users.random(n_users) < 0.02, -1, birth_year),
        "marketing_opt_in": r_users.random(n_users) < 0.41,
    }
    seller_ids = users["user_id"][is_seller]
    seller_at = user_at[is_seller]
    seller_category = _choice(r_users, seller_ids.size, CATEGORY_SHARES)

    # shows: sellers go live; the show's category is mostly the seller's own.
    starts, counts = _hourly_counts(r_shows, start_us, hours, RATE_SHOWS, LIVE_HOURLY, start_us)
    show_at = _event_times(r_shows, starts, counts)
    n_shows = show_at.size
    seller_idx = _pick_existing(r_shows, seller_at, show_at, skew=2.0)
    show_category = np.where(
        r_shows.random(n_shows) < 0.8,
        seller_category[seller_idx],
        _choice(r_shows, n_shows, CATEGORY_SHARES),
    )
    cancelled = r_shows.random(n_shows) < 0.025
    minutes = np.clip(np.exp(np.log(70.0) + 0.4 * r_shows.standard_normal(n_shows)), 10, 300)
    duration_us = np.where(cancelled, 0, np.round(minutes).astype(np.int64) * MINUTE_US)
    ended_at = show_at + duration_us
    viewers = np.floor(np.exp(np.log(45.0) + r_shows.standard_normal(n_shows))).astype(np.int64)
    show_status = np.where(cancelled, 2, np.where(ended_at > end_us, 1, 0))
    shows = {
        "show_id": np.arange(1, n_shows + 1, dtype=np.int64),
        "seller_id": seller_ids[seller_idx],
        "category": show_category,
        "status": show_status,
        "created_at": show_at,
        "ended_at": np.where(ended_at > end_us, -1, ended_at),
        "viewer_peak": np.where(cancelled, 0, viewers + 1),
        "is_featured": r_shows.random(n_shows) < 0.05,
        "language": _with_nulls(r_shows, _choice(r_shows, n_shows, (0.9, 0.08, 0.02)), 0.015),
    }

    # bids: during shows that started in the last two hours.
    starts, counts = _hourly_counts(r_bids, start_us, hours, RATE_BIDS, LIVE_HOURLY, start_us)
    bid_at = _event_times(r_bids, starts, counts)
    n_bids = bid_at.size
    bid_show = _pick_recent(r_bids, show_at, bid_at, 2 * HOUR_US)
    bids = {
        "bid_id": np.arange(1, n_bids + 1, dtype=np.int64),
        "show_id": bid_show + 1,
        "bidder_id": _pick_existing(r_bids, user_at, bid_at, skew=1.6) + 1,
        "amount_cents": _lognormal_cents(r_bids, prices[show_category[bid_show]] * 0.75, 0.9),
        "is_winning": r_bids.random(n_bids) < 0.2,
        "device": _with_nulls(r_bids, _choice(r_bids, n_bids, (0.52, 0.33, 0.15)), 0.005),
        "created_at": bid_at,
    }

    # orders: items won in shows of the last two hours.
    starts, counts = _hourly_counts(r_orders, start_us, hours, RATE_ORDERS, LIVE_HOURLY, start_us)
    order_at = _event_times(r_orders, starts, counts)
    n_orders = order_at.size
    order_show = _pick_recent(r_orders, show_at, order_at, 2 * HOUR_US)
    order_category = show_category[order_show]
    quantity = _choice(r_orders, n_orders, (0.86, 0.10, 0.03, 0.01)) + 1
    subtotal = _lognormal_cents(r_orders, prices[order_category], 0.85) * quantity
    shipping = np.asarray([0, 499, 799, 1299])[_choice(r_orders, n_orders, (0.18, 0.45, 0.27, 0.1))]
    tax = np.round(subtotal * 0.0725).astype(np.int64)
    total = subtotal + shipping + tax
    status = _choice(r_orders, n_orders, ORDER_STATUS_SHARES)
    orders = {
        "order_id": np.arange(1, n_orders + 1, dtype=np.int64),
        "show_id": order_show + 1,
        "buyer_id": _pick_existing(r_orders, user_at, order_at, skew=1.5) + 1,
        "seller_id": shows["seller_id"][order_show],
        "category": order_category,
        "status": status,
        "quantity": quantity,
        "subtotal_cents": subtotal,
        "shipping_cents": shipping,
        "tax_cents": tax,
        "total_cents": total,
        "coupon": _with_nulls(r_orders, _choice(r_orders, n_orders, (0.4, 0.3, 0.2, 0.1)), 0.9),
        "created_at": order_at,
    }

    # payments: one per paid order, a minute or two after it; cancelled orders may have none.
    cancelled_order = status == ORDER_STATUSES.index("cancelled")
    refunded_order = status == ORDER_STATUSES.index("refunded")
    paid = (status != ORDER_STATUSES.index("placed")) & ~(
        cancelled_order & (r_payments.random(n_orders) < 0.4)
    )
    delay = np.round((5 + r_payments.exponential(75.0, n_orders)) * SECOND_US).astype(np.int64)
    pay_at = order_at + delay
    paid &= pay_at < end_us
    pay_order = np.flatnonzero(paid)
    pay_order = pay_order[np.argsort(pay_at[pay_order], kind="stable")]
    n_pay = pay_order.size
    method = _choice(r_payments, n_pay, PAYMENT_METHOD_SHARES)
    pay_status = np.where(
        refunded_order[pay_order],
        3,
        np.where(
            cancelled_order[pay_order],
            np.where(r_payments.random(n_pay) < 0.5, 2, 3),
            np.where(r_payments.random(n_pay) < 0.008, 1, 0),
        ),
    )
    payments = {
        "payment_id": np.arange(1, n_pay + 1, dtype=np.int64),
        "order_id": pay_order + 1,
        "method": _with_nulls(r_payments, method, PAYMENT_METHOD_NULL_RATE),
        "card_brand": np.where(
            method == 0, _choice(r_payments, n_pay, (0.55, 0.30, 0.12, 0.03)), -1
        ),
        "status": pay_status,
        "amount_cents": total[pay_order],
        "fee_cents": np.round(total[pay_order] * 0.029).astype(np.int64) + 30,
        "created_at": pay_at[pay_order],
    }

    # support tickets: the clean table nobody's models read.
    starts, counts = _hourly_counts(
        r_tickets, start_us, hours, RATE_TICKETS, SUPPORT_HOURLY, start_us
    )
    ticket_at = _event_times(r_tickets, starts, counts)
    n_tickets = ticket_at.size
    response = np.round(np.exp(np.log(25.0) + 0.8 * r_tickets.standard_normal(n_tickets)), 1)
    tickets = {
        "ticket_id": np.arange(1, n_tickets + 1, dtype=np.int64),
        "user_id": _pick_existing(r_tickets, user_at, ticket_at, skew=1.2) + 1,
        "channel": _choice(r_tickets, n_tickets, (0.55, 0.35, 0.10)),
        "topic": _choice(r_tickets, n_tickets, (0.35, 0.20, 0.15, 0.15, 0.15)),
        "priority": _choice(r_tickets, n_tickets, (0.30, 0.50, 0.15, 0.05)),
        "first_response_minutes": np.where(r_tickets.random(n_tickets) < 0.01, -1.0, response),
        "created_at": ticket_at,
    }

    _inject(r_incidents, end, shows, orders, payments)
    return {
        "raw.users": users,
        "raw.shows": shows,
        "raw.bids": bids,
        "raw.orders": orders,
        "raw.payments": payments,
        "raw.support_tickets": tickets,
    }


def _inject(
    rng: np.random.Generator,
    end: datetime,
    shows: dict[str, Any],
    orders: dict[str, Any],
    payments: dict[str, Any],
) -> None:
    """Put the build-time incidents into the generated arrays (in place)."""
    end_us = _us(end)
    # 2. new enum value in orders.status
    order_at = orders["created_at"]
    new_value = (order_at >= end_us + _us_delta(NEW_VALUE_START)) & (
        rng.random(order_at.size) < NEW_VALUE_SHARE
    )
    orders["status"] = np.where(new_value, len(ORDER_STATUSES), orders["status"])

    # 3. null spike in payments.method
    pay_at = payments["created_at"]
    spike_start = end_us + _us_delta(NULL_SPIKE_START)
    in_spike = (pay_at >= spike_start) & (pay_at < spike_start + NULL_SPIKE_HOURS * HOUR_US)
    spiked = in_spike & (rng.random(pay_at.size) < NULL_SPIKE_RATE)
    payments["method"] = np.where(spiked, -1, payments["method"])

    # 1. volume drop in orders: most rows of the window never arrive.
    drop_start = _us(volume_drop_start(end))
    in_drop = (order_at >= drop_start) & (order_at < drop_start + VOLUME_DROP_HOURS * HOUR_US)
    keep = ~in_drop | (rng.random(order_at.size) < VOLUME_DROP_KEEP)
    for key in list(orders):
        orders[key] = orders[key][keep]

    # 4. late load: no shows loaded for the last hours.
    keep = shows["created_at"] < end_us - LATE_LOAD_HOURS * HOUR_US
    for key in list(shows):
        shows[key] = shows[key][keep]


def _us_delta(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


# --------------------------------------------------------------------------------------------
# SQL: raw tables (columns -> DDL, numpy codes -> labels) and the dbt-style models


def _label(expr: str, values: Sequence[str]) -> str:
    """SQL turning an integer code column into its label (``-1`` -> NULL)."""
    items = ", ".join(f"'{v}'" for v in values)
    return f"CASE WHEN {expr} < 0 THEN NULL ELSE ([{items}])[{expr} + 1] END"


def _money(expr: str) -> str:
    return f"({expr}::DECIMAL(18, 2) / 100)::DECIMAL(12, 2)"


def _ts(expr: str) -> str:
    return f"make_timestamp({expr})"


_LOADED_AT = "date_trunc('hour', make_timestamp(created_at)) + INTERVAL 1 HOUR"


def _raw_tables(seed: int) -> dict[str, tuple[str, str]]:
    """Per raw table: the column DDL and the SELECT over its numpy source."""
    return {
        "raw.users": (
            "user_id BIGINT NOT NULL, username VARCHAR NOT NULL, email VARCHAR, "
            "country VARCHAR NOT NULL, signup_platform VARCHAR NOT NULL, "
            "is_seller BOOLEAN NOT NULL, referral_code VARCHAR, birth_year INTEGER, "
            "marketing_opt_in BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL, "
            "loaded_at TIMESTAMP NOT NULL",
            "SELECT user_id, 'user_' || user_id, "
            f"CASE WHEN email_domain >= 0 THEN 'user' || user_id || '@' || "
            f"{_label('email_domain', EMAIL_DOMAINS)} END, "
            f"{_label('country', COUNTRIES)}, {_label('platform', PLATFORMS)}, is_seller, "
            f"CASE WHEN has_referral_code THEN 'TG-' || "
            f"upper(substr(md5('{seed}:' || user_id), 1, 8)) END, "
            "NULLIF(birth_year, -1), marketing_opt_in, "
            f"{_ts('created_at')}, {_LOADED_AT}",
        ),
        "raw.shows": (
            "show_id BIGINT NOT NULL, seller_id BIGINT NOT NULL, category VARCHAR NOT NULL, "
            "title VARCHAR NOT NULL, status VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, "
            "ended_at TIMESTAMP, viewer_peak INTEGER NOT NULL, is_featured BOOLEAN NOT NULL, "
            "language VARCHAR, created_at TIMESTAMP NOT NULL, loaded_at TIMESTAMP NOT NULL",
            f"SELECT show_id, seller_id, {_label('category', CATEGORIES)}, "
            f"replace({_label('category', CATEGORIES)}, '_', ' ') || ' live #' || show_id, "
            f"{_label('status', SHOW_STATUSES)}, {_ts('created_at')}, "
            "CASE WHEN ended_at >= 0 THEN make_timestamp(ended_at) END, viewer_peak, "
            f"is_featured, {_label('language', LANGUAGES)}, {_ts('created_at')}, {_LOADED_AT}",
        ),
        "raw.bids": (
            "bid_id BIGINT NOT NULL, show_id BIGINT NOT NULL, bidder_id BIGINT NOT NULL, "
            "amount DECIMAL(12, 2) NOT NULL, is_winning BOOLEAN NOT NULL, device VARCHAR, "
            "created_at TIMESTAMP NOT NULL, loaded_at TIMESTAMP NOT NULL",
            f"SELECT bid_id, show_id, bidder_id, {_money('amount_cents')}, is_winning, "
            f"{_label('device', PLATFORMS)}, {_ts('created_at')}, {_LOADED_AT}",
        ),
        "raw.orders": (
            "order_id BIGINT NOT NULL, show_id BIGINT NOT NULL, buyer_id BIGINT NOT NULL, "
            "seller_id BIGINT NOT NULL, category VARCHAR NOT NULL, status VARCHAR NOT NULL, "
            "quantity INTEGER NOT NULL, subtotal DECIMAL(12, 2) NOT NULL, "
            "shipping_fee DECIMAL(12, 2) NOT NULL, tax DECIMAL(12, 2) NOT NULL, "
            "total DECIMAL(12, 2) NOT NULL, currency VARCHAR NOT NULL, coupon_code VARCHAR, "
            "created_at TIMESTAMP NOT NULL, loaded_at TIMESTAMP NOT NULL",
            f"SELECT order_id, show_id, buyer_id, seller_id, {_label('category', CATEGORIES)}, "
            f"{_label('status', (*ORDER_STATUSES, NEW_ORDER_STATUS))}, quantity, "
            f"{_money('subtotal_cents')}, {_money('shipping_cents')}, {_money('tax_cents')}, "
            f"{_money('total_cents')}, 'USD', {_label('coupon', COUPONS)}, "
            f"{_ts('created_at')}, {_LOADED_AT}",
        ),
        "raw.payments": (
            "payment_id BIGINT NOT NULL, order_id BIGINT NOT NULL, method VARCHAR, "
            "card_brand VARCHAR, status VARCHAR NOT NULL, amount DECIMAL(12, 2) NOT NULL, "
            "processor_fee DECIMAL(12, 2) NOT NULL, created_at TIMESTAMP NOT NULL, "
            "loaded_at TIMESTAMP NOT NULL",
            f"SELECT payment_id, order_id, {_label('method', PAYMENT_METHODS)}, "
            f"{_label('card_brand', CARD_BRANDS)}, {_label('status', PAYMENT_STATUSES)}, "
            f"{_money('amount_cents')}, {_money('fee_cents')}, {_ts('created_at')}, "
            f"{_LOADED_AT}",
        ),
        "raw.support_tickets": (
            "ticket_id BIGINT NOT NULL, user_id BIGINT NOT NULL, channel VARCHAR NOT NULL, "
            "topic VARCHAR NOT NULL, priority VARCHAR NOT NULL, "
            "first_response_minutes DOUBLE, created_at TIMESTAMP NOT NULL, "
            "loaded_at TIMESTAMP NOT NULL",
            f"SELECT ticket_id, user_id, {_label('channel', TICKET_CHANNELS)}, "
            f"{_label('topic', TICKET_TOPICS)}, {_label('priority', TICKET_PRIORITIES)}, "
            "CASE WHEN first_response_minutes >= 0 THEN first_response_minutes END, "
            f"{_ts('created_at')}, {_LOADED_AT}",
        ),
    }


def _models(*, include_referral_code: bool) -> dict[str, str]:
    """The analytics views in dependency order, as a dbt project would materialise them:
    one ``models/NN_schema.name.sql`` file each (NN gives the order). Without
    ``include_referral_code`` (after the demo's schema change) the lines that select
    ``referral_code`` are left out, as a dbt model edited for the change would be."""
    out: dict[str, str] = {}
    for path in sorted((Path(__file__).parent / "models").glob("*.sql")):
        name = path.stem.split("_", 1)[1]
        lines = [
            ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("--")
        ]
        if not include_referral_code:
            lines = [ln for ln in lines if not ln.strip().endswith("referral_code,")]
        out[name] = "\n" + "\n".join(lines)
    return out


_COMMENTS = {
    "raw.users": "Marketplace accounts (buyers and sellers), loaded hourly from the app database.",
    "raw.shows": "Live video shows run by sellers, loaded hourly.",
    "raw.bids": "Bids placed by buyers during live shows, loaded hourly.",
    "raw.orders": "Orders for items won or bought in shows, loaded hourly.",
    "raw.payments": "Payments captured for orders, loaded hourly from the payment processor.",
    "raw.support_tickets": "Customer support tickets, loaded hourly from the helpdesk.",
    "analytics.fct_orders": "One row per order with its payment.",
    "analytics.dim_users": "One row per user with lifetime order stats.",
    "analytics.dim_sellers": "One row per seller with show and sales stats.",
    "analytics.show_performance": "One row per show with bids, orders and GMV.",
    "analytics.daily_revenue": "Revenue per order day.",
}
