"""The demo's SQL: each raw table's DDL and the SELECT that turns its numpy codes into labels,
the dbt-style models (``models/*.sql``) and the table comments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tidegauge.demo.shape import (
    CARD_BRANDS,
    CATEGORIES,
    COUNTRIES,
    COUPONS,
    EMAIL_DOMAINS,
    LANGUAGES,
    NEW_ORDER_STATUS,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    PLATFORMS,
    SHOW_STATUSES,
    TICKET_CHANNELS,
    TICKET_PRIORITIES,
    TICKET_TOPICS,
)

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


def raw_tables(seed: int) -> dict[str, tuple[str, str]]:
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


def models(*, include_referral_code: bool) -> dict[str, str]:
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


COMMENTS = {
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
