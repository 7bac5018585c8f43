"""Load YAML while remembering where every key came from, so errors can name file:line.

PyYAML's composer keeps a mark on every node; we walk the node tree once and build
plain Python values plus a map from key path to line number.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A project file is missing, unreadable or invalid. The message names file, line and key."""


@dataclass
class SourceMap:
    """Where each key path of a loaded YAML document sits in its file."""

    path: Path
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest known prefix of ``loc`` (1-based)."""
        probe = tuple(loc)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get(())

    def where(self, loc: Loc) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def interpolate(text: str, *, path: Path, line: int | None) -> str:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) with the environment's value."""

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is not None:
                return default
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")
        return value

    return _ENV.sub(sub, text)


def load_yaml(path: Path) -> tuple[Any, SourceMap]:
    """Parse ``path`` into plain data with ``${ENV}`` interpolation and a source map."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    smap = SourceMap(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        # building scalars can fail too (a bare `=` is the YAML "value" tag, unsupported)
        return ({}, smap) if node is None else (_build(node, (), smap), smap)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


def _build(node: yaml.Node, loc: Loc, smap: SourceMap) -> Any:
    smap.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            key = yaml.SafeLoader(io_empty()).construct_object(knode)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise ConfigError(f"{smap.path}:{knode.start_mark.line + 1}: duplicate key '{key}'")
            smap.lines[(*loc, key)] = knode.start_mark.line + 1
            out[key] = _build(vnode, (*loc, key), smap)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*loc, i), smap) for i, v in enumerate(node.value)]
    try:
        value = yaml.SafeLoader(io_empty()).construct_object(node)
    except ValueError as e:  # a date-shaped scalar that is no date: `2026-13-01`
        where = ".".join(str(p) for p in loc) or "value"
        raise ConfigError(
            f"{smap.path}:{node.start_mark.line + 1}: {where}: `{node.value}` is not a valid "
            f"value ({e}); quote it if it is meant as text"
        ) from None
    if isinstance(value, str):
        value = interpolate(value, path=smap.path, line=node.start_mark.line + 1)
    return value


def io_empty() -> str:
    return ""


def format_errors(
    err: ValidationError, smap: SourceMap, model: type[BaseModel], tags: Collection[str] = ()
) -> str:
    """A pydantic error as ``file:line: key: message`` lines, one per problem.

    ``tags`` are the discriminator values of the model's unions (``duckdb``, ``slack``,
    ``freshness``…): pydantic puts them in an error's location, the file has no such key.
    An unknown key gets the closest valid one suggested.
    """
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        clean: list[str | int] = [
            p
            for i, p in enumerate(loc)
            if not (isinstance(p, str) and p in tags and i > 0 and isinstance(loc[i - 1], int))
        ]
        key = ".".join(str(p) for p in clean) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            bad = str(clean[-1])
            options = _valid_keys(model, clean[:-1])
            close = difflib.get_close_matches(bad, options, n=1)
            msg = f"unknown key '{bad}'" + (f"; did you mean '{close[0]}'?" if close else "")
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown type; {msg}"
        lines.append(f"{smap.where(tuple(clean))}: {key}: {msg}")
    return "\n".join(lines)


def _valid_keys(model: type[BaseModel], loc: list[str | int]) -> list[str]:
    """The field names valid at ``loc`` (best effort: follows nested models and lists)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _inner_model(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    if fields is None and isinstance(current, list):
        return sorted({k for m in current for k in m.model_fields})
    return sorted(fields or [])


def _inner_model(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = []
    stack = list(get_args(annotation))
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            models.append(a)
        else:
            stack.extend(get_args(a))
    if len(models) == 1:
        return models[0]
    return models or None
