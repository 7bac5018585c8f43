"""The ``calendar:`` of ``defaults:`` and of a ``tables:`` entry: public holidays and other
special days, which never train a baseline and may move a metric without an alert."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tidegauge.config.base import Strict
from tidegauge.core.calendar import DEFAULT_FLOOR, SpecialDays, check_country, zone
from tidegauge.core.calendar import special_days as build_special_days
from tidegauge.yamlsource import ConfigError


class DateRange(Strict):
    """Consecutive special days, both ends included (e.g. a year-end shutdown)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if (self.end - self.start).days >= 366:
            raise ValueError("a range of special days covers at most 366 days")
        return self


class CalendarConfig(Strict):
    """Special days (public holidays, shutdowns): they never train a baseline, and a metric
    may go quieter on them (``expect``) without alerting unless it falls below ``floor``
    of its usual level. Written in ``defaults:``; a ``tables:`` entry's keys replace these
    (``calendar: false`` turns it off for a table)."""

    enabled: bool = True
    country: str | None = Field(
        None, description="ISO 3166 code whose public holidays count (e.g. US, GB, DE)"
    )
    subdivision: str | None = Field(None, description="state or province, e.g. CA or BY")
    dates: list[date] = Field(default_factory=list, description="more special days")
    ranges: list[DateRange] = Field(default_factory=list, description="runs of special days")
    timezone: str = Field("UTC", description="the zone special days are local dates in")
    expect: Literal["down", "up", "both"] = Field(
        "down", description="which way a special day may move without alerting"
    )
    floor: float = Field(
        DEFAULT_FLOOR,
        ge=0,
        lt=1,
        description="a special day still alerts when clearly below this share of normal",
    )

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else check_country(v)

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, v: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if v is not None and country:  # without a country here, the project's applies
            check_country(country, v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone(v)
        return v

    def special_days(self, start: datetime, end: datetime) -> SpecialDays:
        """The plain dates between ``start`` and ``end`` (a year of margin each side)."""
        if self.subdivision and not self.country:
            raise ConfigError(f"calendar: subdivision '{self.subdivision}' needs a country")
        return build_special_days(
            years=range(start.year - 1, end.year + 2),
            country=self.country,
            subdivision=self.subdivision,
            dates=self.dates,
            ranges=[(r.start, r.end) for r in self.ranges],
            timezone=self.timezone,
            expect=self.expect,
            floor=self.floor,
        )
