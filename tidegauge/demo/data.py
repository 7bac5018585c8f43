"""The demo's rows, drawn with numpy from one seed (one independent stream per table): every
table is a dict of equally long arrays, times in epoch µs, with the incidents of
:mod:`tidegauge.demo.shape` injected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tidegauge.core.clock import ensure_utc
from tidegauge.demo.shape import (
    CATEGORY_MEDIAN_PRICE,
    CATEGORY_SHARES,
    EPOCH,
    GROWTH_PER_WEEK,
    HOUR_US,
    LATE_LOAD_HOURS,
    LIVE_HOURLY,
    MINUTE_US,
    NEW_VALUE_SHARE,
    NEW_VALUE_START,
    NULL_SPIKE_HOURS,
    NULL_SPIKE_RATE,
    NULL_SPIKE_START,
    ORDER_STATUS_SHARES,
    ORDER_STATUSES,
    PAYMENT_METHOD_NULL_RATE,
    PAYMENT_METHOD_SHARES,
    RATE_BIDS,
    RATE_ORDERS,
    RATE_SHOWS,
    RATE_TICKETS,
    RATE_USERS,
    SECOND_US,
    SIGNUP_HOURLY,
    SUPPORT_HOURLY,
    USER_HISTORY_DAYS,
    VOLUME_DROP_HOURS,
    VOLUME_DROP_KEEP,
    WEEKLY,
    volume_drop_start,
)

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


# Generation with numpy: every table is a dict of equally long arrays, times in epoch µs


def _us(value: datetime) -> int:
    """Epoch microseconds of an aware UTC datetime."""
    naive = ensure_utc(value).replace(tzinfo=None)
    return (naive - EPOCH) // timedelta(microseconds=1)


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


def generate(start: datetime, end: datetime, days: int, seed: int) -> dict[str, dict[str, Any]]:
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
