"""Which way a deviation must go to count, shared by detectors, calendars and the metric
catalogue. Its own module, free of numpy, so that loading a project's configuration (a
calendar's expected direction) does not import the detectors' numerics."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Direction"]


class Direction(StrEnum):
    """Which deviations count: above the band, below it, or both."""

    UP = "up"
    DOWN = "down"
    BOTH = "both"
