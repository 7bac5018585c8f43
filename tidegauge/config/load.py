"""Loading ``tidegauge.yml``: the file and ``monitors/*.yml`` beside it, the dbt manifest's
monitors, and validation errors that name the file, the line and the key (with the closest
valid key for a typo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tidegauge.config.project import Project
from tidegauge.config.sections import EXTERNAL
from tidegauge.monitors import MONITOR_TYPES
from tidegauge.warehouses.duckdb import DuckDBWarehouseConfig
from tidegauge.warehouses.registry import WAREHOUSES
from tidegauge.yamlsource import ConfigError, SourceMap, format_errors, load_yaml

_TAGS = {
    *WAREHOUSES,
    EXTERNAL,
    "slack",
    "teams",
    "pagerduty",
    "opsgenie",
    "email",
    "webhook",
    *MONITOR_TYPES,
}


def _format_errors(err: ValidationError, smap: SourceMap, model: type[BaseModel]) -> str:
    return format_errors(err, smap, model, _TAGS)


def parse_project(data: Any, smap: SourceMap) -> Project:
    if not isinstance(data, dict):
        raise ConfigError(f"{smap.path}:1: the project file must be a mapping of keys")
    from tidegauge.monitors import duplicate_names, locate

    dupes = duplicate_names(data, smap)
    if dupes:
        raise ConfigError("\n".join(dupes))
    try:
        project = Project.model_validate({**data, "root": smap.path.parent.resolve()})
    except ValidationError as e:
        raise ConfigError(_format_errors(e, smap, Project)) from None
    locate(project.monitors, smap)
    project._source = smap.path.resolve()
    for w in project.warehouses:
        if isinstance(w, DuckDBWarehouseConfig) and w.path != ":memory:":
            w.path = str(project.resolve(w.path))
    return project


def load_project(path: str | Path | None = None) -> Project:
    """Load and validate a project file (default: ``./tidegauge.yml``).

    >>> from pathlib import Path
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> text = "warehouses:\\n  - type: duckdb\\n    path: w.duckdb\\n"
    >>> _ = (d / "tidegauge.yml").write_text(text)
    >>> load_project(d / "tidegauge.yml").warehouses[0].name
    'main'
    """
    p = Path(path) if path is not None else Path("tidegauge.yml")
    if p.is_dir():
        p = p / "tidegauge.yml"
    data, smap = load_yaml(p)
    project = parse_project(data, smap)
    load_monitors(project, p.parent / "monitors")
    return project


def load_monitors(project: Project, folder: Path | None = None) -> None:
    """Add ``folder/*.yml`` monitors and the dbt manifest's, check names and channels, and
    translate them all into the settings the run reads. Errors name file and line."""
    from tidegauge.monitors import (
        check_channels,
        check_unique,
        install,
        load_dbt_monitors,
        load_monitor_files,
    )

    if folder is not None:
        project.monitors = [*project.monitors, *load_monitor_files(folder)]
    dbt = load_dbt_monitors(project)
    project.set_dbt_monitors(dbt.monitors, dbt.problems)
    everything = [*project.monitors, *dbt.monitors]
    errors = check_unique(everything) + check_channels(
        everything, [c.name for c in project.channels]
    )
    if errors:
        raise ConfigError("\n".join(errors))
    install(project)
