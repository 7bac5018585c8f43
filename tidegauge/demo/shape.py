"""The demo's shape: rates, daily and weekly cycles, value sets and shares, the tables, and
the incidents injected into the last 30 hours (what they are, when they start)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from tidegauge.core.clock import ensure_utc, floor_time
from tidegauge.core.model import AlertKind
from tidegauge.demo.scenario import (
    APPLIED_BY_SCHEMA_CHANGE,
    InjectedIncident,
)

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
SECOND_US = 1_000_000
EPOCH = datetime(1970, 1, 1)

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


# The incidents


def volume_drop_start(end: datetime) -> datetime:
    """When the orders volume drop starts: the 18:00 UTC in ``[end - 29h, end - 6h]``."""
    earliest = ensure_utc(end) - timedelta(hours=29)
    candidate = floor_time(earliest, 86400) + timedelta(hours=VOLUME_DROP_HOUR_OF_DAY)
    return candidate if candidate >= earliest else candidate + timedelta(days=1)


def incidents(end: datetime) -> list[InjectedIncident]:
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
