"""The ``calendar:`` settings: a project calendar in ``defaults:``, per-table overrides, and
config errors that name the file, the line and the key."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tidegauge.config import ConfigError, load_project

HEAD = "warehouses: [{type: duckdb, path: w.duckdb}]\n"


def project(tmp_path: Path, body: str):
    (tmp_path / "tidegauge.yml").write_text(HEAD + body)
    return load_project(tmp_path / "tidegauge.yml")


def error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as e:
        project(tmp_path, body)
    return str(e.value)


def test_project_calendar_and_table_overrides(tmp_path):
    p = project(
        tmp_path,
        """
defaults:
  calendar:
    country: us
    subdivision: CA
    timezone: America/Los_Angeles
    dates: [2026-11-27]
    ranges:
      - {start: 2026-12-28, end: 2026-12-31}
tables:
  - match: "eu.*"
    calendar: {country: DE, timezone: Europe/Berlin}
  - match: "raw.*"
    calendar: false
  - match: "raw.keep"
    calendar: {floor: 0.3}
""",
    )
    when = datetime(2026, 6, 1, tzinfo=UTC)
    us = p.special_days(p.settings_for("analytics.orders"), when, when)
    assert us is not None and us.label == "US-CA + 5 dates"
    assert us.timezone == "America/Los_Angeles"
    assert {
        date(2026, 12, 25),
        date(2026, 3, 31),
        date(2026, 11, 27),
        date(2026, 12, 29),
    } <= us.dates  # Cesar Chavez Day is California's
    de = p.special_days(p.settings_for("eu.orders"), when, when)
    assert de is not None and de.label == "DE + 5 dates"  # own dates are inherited
    assert date(2026, 10, 3) in de.dates and date(2026, 7, 3) not in de.dates
    assert p.special_days(p.settings_for("raw.events"), when, when) is None
    # a later entry's keys on top of an earlier ``false``: turned back on, project's keys kept
    keep = p.calendar_for(p.settings_for("raw.keep"))
    assert keep is not None and keep.floor == 0.3 and keep.country == "US"


def test_no_calendar_by_default(tmp_path):
    p = project(tmp_path, "")
    assert p.calendar_for(p.settings_for("raw.orders")) is None


@pytest.mark.parametrize(
    ("body", "line", "key", "message"),
    [
        ("    country: XX\n", 5, "defaults.calendar.country", "unknown country 'XX'"),
        ("    country: USS\n", 5, "defaults.calendar.country", "did you mean"),
        (
            "    country: US\n    subdivision: ZZ\n",
            6,
            "defaults.calendar.subdivision",
            "no subdivision 'ZZ'",
        ),
        ("    timezone: Mars/Olympus\n", 5, "defaults.calendar.timezone", "unknown time zone"),
        ("    dates: ['2026-02-30']\n", 5, "defaults.calendar.dates.0", "date"),
        (
            "    ranges: [{start: 2026-12-31, end: 2026-12-24}]\n",
            5,
            "defaults.calendar.ranges.0",
            "before start",
        ),
        ("    floor: 1.5\n", 5, "defaults.calendar.floor", "less than 1"),
        ("    expect: sideways\n", 5, "defaults.calendar.expect", "down"),
        ("    contry: US\n", 5, "defaults.calendar.contry", "did you mean 'country'"),
    ],
)
def test_bad_calendar_names_file_line_and_key(tmp_path, body, line, key, message):
    text = error(tmp_path, "\ndefaults:\n  calendar:\n" + body)
    assert f"tidegauge.yml:{line}: {key}:" in text
    assert message in text


def test_bad_table_calendar_names_its_entry(tmp_path):
    text = error(tmp_path, 'tables:\n  - match: "eu.*"\n    calendar: {country: Germany}\n')
    assert "tidegauge.yml:4: tables.0.calendar.country: " in text


def test_subdivision_without_any_country_is_an_error(tmp_path):
    p = project(tmp_path, 'tables:\n  - match: "x.*"\n    calendar: {subdivision: CA}\n')
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match="needs a country"):
        p.special_days(p.settings_for("x.y"), now, now)
