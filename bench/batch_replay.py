"""A shop warehouse loaded in nightly batches, replayed day by day: which injected problems
open an incident, and what else does. Prints one JSON document.

    .venv/bin/python -m bench.batch_replay [--seed 5] [--days 44] [--hourly]

DuckDB, four tables: ``shop.orders`` and ``shop.payments`` get the previous day's rows at
03:00 (Poisson volumes with a weekly shape and a slow trend; payments follow orders by up to
an hour, so some land after midnight, in the next day's first hour), ``shop.customers`` is
rebuilt in full every night with its load time on every row, and ``shop.daily_revenue`` is
a view. The first run backfills 28 days; then each night loads and a run follows at 04:00
(``--hourly``: also a run every hour in between). Injected, on nights the seed does not
choose: a third of the orders loaded twice, 40% of payment amounts null, a night without
the customers' rebuild, and a new order status on 10% of rows.

Per night: the incidents opened (table, kind, title). ``found``: injected problems with an
incident on their table within a day after the load; ``extra``: incidents on clean nights
and on tables without an injected problem that night; the first run's are reported apart
(``first_run``), since a first look cannot tell a nightly batch from a stopped feed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

START = datetime(2025, 3, 3)
BACKFILL = 28
PROBLEMS = {
    "duplicated_orders": "shop.orders",
    "null_amounts": "shop.payments",
    "missed_rebuild": "shop.customers",
    "new_status": "shop.orders",
}


class Shop:
    """The warehouse and its nightly loads."""

    def __init__(self, path: Path, seed: int) -> None:
        self.path = path
        self.rng = np.random.default_rng(seed)
        self.order_id = 0
        self.payment_id = 0
        self.customers = 500
        con = duckdb.connect(str(path))
        con.execute("CREATE SCHEMA shop")
        con.execute(
            "CREATE TABLE shop.orders (id BIGINT, customer_id BIGINT, status VARCHAR, "
            "amount DECIMAL(10, 2), created_at TIMESTAMP, loaded_at TIMESTAMP)"
        )
        con.execute(
            "CREATE TABLE shop.payments (id BIGINT, order_id BIGINT, method VARCHAR, "
            "amount DOUBLE, paid_at TIMESTAMP)"
        )
        con.execute(
            "CREATE VIEW shop.daily_revenue AS SELECT CAST(created_at AS DATE) AS d, "
            "sum(amount) AS revenue, count(*) AS n FROM shop.orders GROUP BY 1"
        )
        con.close()

    def load(self, day: int, problem: str | None) -> None:
        rng, when = self.rng, START + timedelta(days=day)
        volume = 2000 * (1.0 if when.weekday() < 5 else 0.6) * (1 + 0.003 * day)
        n = int(rng.poisson(volume))
        statuses = ["placed", "shipped", "completed", "returned"]
        orders = []
        for k in range(n):
            self.order_id += 1
            status = str(rng.choice(statuses, p=[0.2, 0.3, 0.45, 0.05]))
            if problem == "new_status" and k % 10 == 0:
                status = "on_hold"
            created = when + timedelta(seconds=int(rng.integers(0, 86400)))
            orders.append(
                (
                    self.order_id,
                    int(rng.integers(1, self.customers)),
                    status,
                    round(float(rng.gamma(2, 30)), 2),
                    created,
                    when + timedelta(days=1, hours=3),
                )
            )
        payments = []
        for o in orders:
            if rng.random() < 0.9:
                self.payment_id += 1
                amount = None if problem == "null_amounts" and rng.random() < 0.4 else o[3]
                method = str(rng.choice(["card", "paypal", "bank"], p=[0.7, 0.2, 0.1]))
                paid = o[4] + timedelta(minutes=int(rng.integers(1, 60)))
                payments.append((self.payment_id, o[0], method, amount, paid))
        if problem == "duplicated_orders":
            orders += orders[: n // 3]
        con = duckdb.connect(str(self.path))
        con.executemany("INSERT INTO shop.orders VALUES (?, ?, ?, ?, ?, ?)", orders)
        con.executemany("INSERT INTO shop.payments VALUES (?, ?, ?, ?, ?)", payments)
        if problem != "missed_rebuild":
            self.customers += int(rng.poisson(20))
            at = when + timedelta(days=1, hours=3)
            con.execute(
                "CREATE OR REPLACE TABLE shop.customers AS SELECT r AS id, "
                "'u' || r::VARCHAR || '@example.com' AS email, "
                "['de', 'fr', 'us', 'uk'][1 + r % 4] AS country, "
                f"TIMESTAMP '{at:%Y-%m-%d %H:%M}' + to_seconds(r % 300) AS updated_at "
                f"FROM range(1, {self.customers}) AS g(r)"
            )
        con.close()


def replay(seed: int, days: int, hourly: bool) -> dict[str, Any]:
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.runner import run
    from tidegauge.store.store import Store

    rng = np.random.default_rng(seed + 1)
    nights = sorted(rng.choice(np.arange(BACKFILL + 2, days - 1), len(PROBLEMS), replace=False))
    schedule = dict(zip((int(x) for x in nights), PROBLEMS, strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shop = Shop(root / "w.duckdb", seed)
        for day in range(BACKFILL):
            shop.load(day, None)
        (root / "tidegauge.yml").write_text(
            "warehouses: [{type: duckdb, path: w.duckdb}]\n"
            'store: {url: "sqlite:///state.db"}\n'
            "defaults: {bucket: hour, history_days: 28}\n"
        )
        project = load_project(root / "tidegauge.yml")
        store = Store.open(project.store_url())

        def opened(now: datetime) -> list[dict[str, str]]:
            report = run(project, store, Clock.fixed(now.replace(tzinfo=UTC)), notify=False)
            out = []
            for iid in report.incidents_opened:
                inc = store.incidents.get(iid) or {}
                out.append(
                    {"table": str(inc.get("table")), "kind": str(inc.get("kind")),
                     "title": str(inc.get("title"))}
                )  # fmt: skip
            return out

        first = opened(START + timedelta(days=BACKFILL, hours=4))
        nights_out: list[dict[str, Any]] = []
        for day in range(BACKFILL, days):
            seen: list[dict[str, str]] = []
            if hourly:
                for hour in range(5, 28):
                    seen += opened(START + timedelta(days=day, hours=hour))
            problem = schedule.get(day)
            shop.load(day, problem)
            seen += opened(START + timedelta(days=day + 1, hours=4))
            nights_out.append({"night": day, "problem": problem, "opened": seen})
        store.close()
    found: list[str] = []
    missed: list[str] = []
    extra: list[dict[str, Any]] = []
    for i, night in enumerate(nights_out):
        problem = night["problem"]
        # the hourly runs before a night's load belong to the night before
        window = night["opened"] + (nights_out[i + 1]["opened"] if i + 1 < len(nights_out) else [])
        if problem is not None:
            hits = [o for o in window if o["table"] == PROBLEMS[problem]]
            (found if hits else missed).append(problem)
        for o in night["opened"]:
            injected = problem is not None and o["table"] == PROBLEMS[problem]
            before = i > 0 and nights_out[i - 1]["problem"] is not None
            late = before and o["table"] == PROBLEMS[nights_out[i - 1]["problem"]]
            if not injected and not late:
                extra.append({"night": night["night"], **o})
    return {
        "seed": seed,
        "hourly": hourly,
        "nights": len(nights_out),
        "injected": schedule,
        "found": found,
        "missed": missed,
        "extra": extra,
        "first_run": first,
        "per_night": nights_out,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--days", type=int, default=44)
    ap.add_argument("--hourly", action="store_true")
    args = ap.parse_args()
    print(json.dumps(replay(args.seed, args.days, args.hourly), indent=2, default=str))


if __name__ == "__main__":
    main()
