"""Monitors read from a dbt manifest: ``meta: {tidegauge: ...}`` on models, sources and
seeds, and dbt's generic tests (``not_null``, ``unique``, ``accepted_values``,
``relationships``) as ``rule`` monitors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tidegauge.monitors.base import MonitorBase
from tidegauge.monitors.registry import MONITOR_TYPES, parse_monitor

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.integrations.dbt import DbtProject

__all__ = ["DbtMonitors", "dbt_monitors", "load_dbt_monitors"]


@dataclass
class DbtMonitors:
    """Monitors read from a dbt manifest, and the problems met reading them."""

    monitors: list[MonitorBase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_DBT_RULES = ("not_null", "unique", "accepted_values", "relationships")
_REF = re.compile(r"""^\s*(ref|source)\(\s*(.+?)\s*\)\s*$""")


def dbt_monitors(dbt: DbtProject) -> DbtMonitors:
    """Monitors from ``meta: {tidegauge: ...}`` on models/sources/seeds, and dbt's generic tests.

    ``meta.tidegauge`` is one monitor mapping, a list of them, or ``{monitors: [...]}``;
    ``table`` defaults to the node's relation and ``name`` to ``<node>_<type>``.
    """
    out = DbtMonitors()
    where = str(dbt.manifest_path)
    relations: dict[str, str] = {}
    by_name: dict[tuple[str, str], str] = {}
    for node in dbt.graph.nodes:
        if node.schema and node.table:
            relations[node.id] = f"{node.schema}.{node.table}"
            rtype = str(node.meta.get("resource_type") or "")
            if rtype == "source":
                by_name[("source", f"{node.meta.get('source_name')}.{node.name}")] = node.id
            else:
                by_name[("ref", node.name)] = node.id
    for node in dbt.graph.nodes:
        raw = node.meta.get("tidegauge")
        if raw is None:
            continue
        at = f"{node.meta.get('path') or where} ({node.id}): meta.tidegauge"
        table = relations.get(node.id)
        items = raw.get("monitors") if isinstance(raw, dict) and "monitors" in raw else raw
        items = items if isinstance(items, list) else [items]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out.problems.append(f"{at}[{i}]: a monitor is a mapping with a 'type:'")
                continue
            data = dict(item)
            if table and "table" not in data:
                data["table"] = table
            data.setdefault(
                "name",
                f"{node.name}_{data.get('type', 'monitor')}" + (f"_{i}" if len(items) > 1 else ""),
            )
            try:
                m = parse_monitor(data)
            except ValidationError as e:
                for err in e.errors():
                    loc = ".".join(str(p) for p in err["loc"] if p not in MONITOR_TYPES)
                    out.problems.append(f"{at}[{i}]: {loc or '(monitor)'}: {err['msg']}")
                continue
            out.monitors.append(m.located(f"{at}[{i}]", "dbt"))
    for test in dbt.tests:
        if test.test_type not in _DBT_RULES or test.node_id not in relations:
            continue
        params = dict(test.params)
        rule: dict[str, Any] = {
            "type": "rule",
            "rule": test.test_type,
            "name": f"dbt.{test.name}",
            "table": relations[test.node_id],
            "column": test.column,
            "severity": "medium" if test.severity == "warn" else "high",
        }
        if test.test_type == "accepted_values":
            rule["values"] = list(params.get("values") or [])
        if test.test_type == "relationships":
            parent = _resolve_ref(str(params.get("to") or ""), by_name)
            if parent is None or parent not in relations:
                out.problems.append(
                    f"{where} ({test.unique_id}): cannot resolve "
                    f"relationships target {params.get('to')!r}"
                )
                continue
            rule["to"], rule["field"] = relations[parent], params.get("field")
        try:
            m = parse_monitor(rule)
        except ValidationError as e:
            out.problems.append(f"{where} ({test.unique_id}): {e.errors()[0]['msg']}")
            continue
        out.monitors.append(m.located(f"{where} ({test.unique_id})", "dbt"))
    return out


def _resolve_ref(text: str, by_name: dict[tuple[str, str], str]) -> str | None:
    m = _REF.match(text)
    if m is None:
        return None
    args = [a.strip().strip("'\"") for a in m.group(2).split(",")]
    if m.group(1) == "ref":
        return by_name.get(("ref", args[-1]))
    return by_name.get(("source", ".".join(args[-2:]))) if len(args) >= 2 else None


def load_dbt_monitors(project: Project) -> DbtMonitors:
    """Read the project's dbt manifest for monitors; a missing manifest is a problem, not a
    crash (dbt may not have compiled yet)."""
    if project.dbt is None:
        return DbtMonitors()  # (and no import of the dbt integration: every run asks)
    from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project

    path = project.resolve(project.dbt.manifest)
    if not path.exists():
        return DbtMonitors(problems=[f"{path}: dbt manifest not found; dbt monitors skipped"])
    try:
        dbt = load_dbt_project(path, column_level=False, read_siblings=False)
    except DbtArtifactError as e:
        return DbtMonitors(problems=[str(e)])
    return dbt_monitors(dbt)
