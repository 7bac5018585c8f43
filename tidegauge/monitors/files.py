"""Monitors declared in YAML: a ``monitors:`` list in the project file or in
``monitors/*.yml`` beside it; errors name each file and line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidegauge.monitors.base import MonitorBase
from tidegauge.monitors.registry import MONITOR_TYPES, Monitor

if TYPE_CHECKING:
    from tidegauge.yamlsource import SourceMap

__all__ = [
    "MonitorsFile",
    "check_channels",
    "check_unique",
    "duplicate_names",
    "load_monitor_files",
    "locate",
]


class MonitorsFile(BaseModel):
    """A ``monitors/*.yml`` file: a ``monitors:`` list, as in the project file."""

    model_config = ConfigDict(extra="forbid")

    monitors: list[Monitor] = Field(default_factory=list)


def locate(monitors: Sequence[MonitorBase], smap: SourceMap, source: str = "yaml") -> None:
    """Record ``file:line`` of each monitor of a ``monitors:`` list read with ``smap``."""
    for i, m in enumerate(monitors):
        m.located(smap.where(("monitors", i)), source)


def duplicate_names(data: Any, smap: SourceMap) -> list[str]:
    """Errors for a ``monitors:`` list (plain data) naming the same monitor twice."""
    seen: dict[str, str] = {}
    out = []
    items = data.get("monitors") if isinstance(data, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        where = smap.where(("monitors", i, "name"))
        if name in seen:
            out.append(
                f"{where}: monitors.{i}.name: duplicate monitor name '{name}' "
                f"(also declared at {seen[name]})"
            )
        else:
            seen[name] = where
    return out


def load_monitor_files(folder: Path) -> list[Any]:
    """Every ``*.yml``/``*.yaml`` in ``folder`` (sorted); errors name each file and line."""
    from tidegauge.yamlsource import ConfigError, format_errors, load_yaml

    out: list[Any] = []
    errors: list[str] = []
    if not folder.is_dir():
        return out
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    for path in files:
        data, smap = load_yaml(path)
        if not isinstance(data, dict):
            errors.append(f"{path}:1: a monitors file is a mapping with a 'monitors:' list")
            continue
        errors.extend(duplicate_names(data, smap))
        try:
            parsed = MonitorsFile.model_validate(data)
        except ValidationError as e:
            errors.append(format_errors(e, smap, MonitorsFile, MONITOR_TYPES))
            continue
        locate(parsed.monitors, smap)
        out.extend(parsed.monitors)
    if errors:
        raise ConfigError("\n".join(errors))
    return out


def check_unique(monitors: Iterable[MonitorBase]) -> list[str]:
    """Errors for monitor names declared more than once, naming both places."""
    seen: dict[str, MonitorBase] = {}
    out = []
    for m in monitors:
        first = seen.get(m.name)
        if first is None:
            seen[m.name] = m
            continue
        out.append(
            f"{m.origin or m.source}: monitor '{m.name}' is declared twice: "
            f"{first.origin or first.source} and {m.origin or m.source}"
        )
    return out


def check_channels(monitors: Iterable[MonitorBase], channels: Iterable[str]) -> list[str]:
    known = set(channels)
    out = []
    for m in monitors:
        unknown = [c for c in m.channels if c not in known]
        if unknown:
            close = _closest(unknown[0], sorted(known))
            out.append(
                f"{m.origin or m.source}: monitors.{m.name}.channels: unknown channel "
                f"'{unknown[0]}'" + (f"; did you mean '{close}'?" if close else "")
            )
    return out


def _closest(word: str, options: list[str]) -> str | None:
    found = difflib.get_close_matches(word, options, n=1)
    return found[0] if found else None
