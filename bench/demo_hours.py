"""The demo replayed with its data ending at each hour of one day: which injected incidents
are found, and what else opens an incident, as JSON. Per end hour: ``found`` (injected
problems with an incident of their own), ``missed``, ``extra`` (incidents no injected
problem explains) and the severities given; the target is found == injected and extra == 0
at every hour (one incident per real problem).

The demo's data end at the last full hour, so what each replayed run tests (and where the
detector refits its baselines) moves with the time of day; a detector that is right only
at some hours shows here. Two hours run at a time.

    .venv/bin/python -m bench.demo_hours [--day 2026-11-26] [--hours 0-23|0,6,12] [--jobs 2]
        [--quick]

``--quick`` replays ``QUICK_REPLAY_HOURS`` (runs 30, 18, 6 and 0 hours before the end, what
the web tests' shared demo store uses) instead of the demo's six runs 6 hours apart.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any


def one(end: datetime, quick: bool = False) -> dict[str, Any]:
    from tidegauge.cli.demo import QUICK_REPLAY_HOURS, REPLAY_HOURS, run_demo

    schedule = QUICK_REPLAY_HOURS if quick else REPLAY_HOURS
    with tempfile.TemporaryDirectory() as d:
        s = run_demo(Path(d), quiet=True, days=45, end=end, replay_hours=schedule)
    clean = set(s["clean_tables"])
    matched = [f["incident"] for f in s["injected"] if f["incident"] is not None]
    extra = [i for i in s["incidents"] if i["id"] not in set(matched)]
    return {
        "end": end.isoformat(),
        "injected": len(s["injected"]),
        # problems that share one incident count once: one incident per real problem
        "found": len(set(matched)),
        "missed": [f["injected"] for f in s["injected"] if f["incident"] is None],
        "extra": len(extra),
        "incidents": len(s["incidents"]),
        "severities": sorted(i["severity"] for i in s["incidents"]),
        "clean_tables_rooting_incidents": sorted(
            i["table"] for i in s["incidents"] if i["table"] in clean
        ),
        "extra_incidents": [f"{i['title']} ({i['alerts']} alerts)" for i in extra],
    }


def hours(text: str) -> list[int]:
    """``0-23``, ``9`` or a comma list of either: ``0,6,12-14``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 26))
    ap.add_argument("--hours", type=hours, default=list(range(24)))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="the tests' shorter replay")
    a = ap.parse_args()
    ends = [datetime.combine(a.day, time(h), tzinfo=UTC) for h in a.hours]
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(partial(one, quick=a.quick), ends))
    print(
        json.dumps(
            {
                "bench": "demo_hours",
                "schedule": "30, 18, 6, 0 hours back" if a.quick else "every 6 hours",
                "ends": len(rows),
                "ends_with_one_incident_per_injected_problem": sum(
                    r["found"] == r["injected"] == r["incidents"] for r in rows
                ),
                "ends_missing_an_injected_incident": sum(bool(r["missed"]) for r in rows),
                "ends_with_extra_incidents": sum(bool(r["extra"]) for r in rows),
                "per_end": {
                    r["end"][11:16]: f"found {r['found']}/{r['injected']}, "
                    f"missed {len(r['missed'])}, extra {r['extra']}"
                    for r in rows
                },
                "ends_with_a_clean_table_rooting_an_incident": sum(
                    bool(r["clean_tables_rooting_incidents"]) for r in rows
                ),
                "incidents_per_end": {
                    "min": min(r["incidents"] for r in rows),
                    "max": max(r["incidents"] for r in rows),
                    "injected": rows[0]["injected"] if rows else 0,
                },
                "runs": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
