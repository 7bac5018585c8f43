"""The retention policy (:class:`Retention`): how long fine points, then daily roll-ups,
are kept; :mod:`tidegauge.store.retention` applies it. Checked when a project is loaded,
so it imports nothing of the store."""

from __future__ import annotations

from dataclasses import dataclass

from tidegauge.yamlsource import ConfigError

DAY = 86400
#: detection's shortest history window (``steps/detect.py``: max(history_days, 42) + 1)
MIN_FINE_DAYS = 43


@dataclass(frozen=True)
class Retention:
    """How long fine points, then daily roll-ups, are kept (``keep_days=None``: forever)."""

    fine_days: int = 120
    keep_days: int | None = 730

    def validate(self, history_days: int = 30) -> None:
        """A clear error when the policy would cut into what detection reads."""
        floor = max(history_days, MIN_FINE_DAYS - 1) + 1
        if self.fine_days < floor:
            raise ConfigError(
                f"retention keeps fine points {self.fine_days} days, but detection reads "
                f"{floor} days of history (defaults.history_days = {history_days}): "
                f"keep them at least {floor} days"
            )
        if self.keep_days is not None and self.keep_days < self.fine_days:
            raise ConfigError(
                f"retention keeps points {self.keep_days} days in all, less than the "
                f"{self.fine_days} days of fine points: make keep_days at least fine_days"
            )
