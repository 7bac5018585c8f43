"""Load YAML while remembering where every key came from, so errors can name file:line.

PyYAML's composer keeps a mark on every node; we walk the node tree once and build
plain Python values plus a map from key path to line number.

The loader is safe for files from anywhere: only plain YAML types (``SafeLoader``), at most
:data:`MAX_DEPTH` levels of nesting (checked on the token stream, before the recursive
composer runs), aliases expanded into at most :data:`MAX_ALIAS_NODES` nodes (a 363-byte
"billion laughs" file would otherwise expand to gigabytes), and bytes that are not UTF-8
reported with their line instead of a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # only error formatting needs pydantic: reading a file does not
    from pydantic import BaseModel, ValidationError

#: deepest nesting of mappings and lists a project or monitor file may have
MAX_DEPTH = 64
#: nodes that aliases (``*name``) may expand into, over the whole file
MAX_ALIAS_NODES = 10_000

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
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    return parse_yaml(raw, path)


def parse_yaml(raw: bytes, path: Path) -> tuple[Any, SourceMap]:
    """Parse YAML bytes read from ``path`` (named in errors); see :func:`load_yaml`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None
    smap = SourceMap(path)
    try:
        _check_depth(text, path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        # building scalars can fail too (a bare `=` is the YAML "value" tag, unsupported)
        return ({}, smap) if node is None else (_Builder(smap).build(node, ()), smap)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


def _check_depth(text: str, path: Path) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, from the tokens (no recursion)."""
    depth = 0
    opening = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken)
    flow_opening = (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, opening + flow_opening):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"{path}:{token.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
                )
        elif isinstance(token, closing):
            depth -= 1


class _Builder:
    """Turns composed nodes into plain values, counting what aliases expand into."""

    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.seen: set[int] = set()
        self.alias_nodes = 0

    def build(self, node: yaml.Node, loc: Loc, via_alias: bool = False) -> Any:
        smap = self.smap
        if id(node) in self.seen or via_alias:
            # a node built before is an alias: its copy counts against the budget
            via_alias = True
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise ConfigError(
                    f"{smap.path}:{node.start_mark.line + 1}: aliases expand to more than "
                    f"{MAX_ALIAS_NODES} values; write the values out instead"
                )
        self.seen.add(id(node))
        if len(loc) > MAX_DEPTH:
            raise ConfigError(
                f"{smap.path}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
            )
        smap.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                key = yaml.SafeLoader(io_empty()).construct_object(knode)
                if not isinstance(key, str):
                    key = str(key)
                if key in out:
                    raise ConfigError(
                        f"{smap.path}:{knode.start_mark.line + 1}: duplicate key '{key}'"
                    )
                smap.lines[(*loc, key)] = knode.start_mark.line + 1
                out[key] = self.build(vnode, (*loc, key), via_alias)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*loc, i), via_alias) for i, v in enumerate(node.value)]
        try:
            value = yaml.SafeLoader(io_empty()).construct_object(node)
        except ValueError as e:  # a date-shaped scalar that is no date: `2026-13-01`
            where = ".".join(str(p) for p in loc) or "value"
            raise ConfigError(
                f"{smap.path}:{node.start_mark.line + 1}: {where}: `{node.value}` is not a "
                f"valid value ({e}); quote it if it is meant as text"
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

    from pydantic import BaseModel

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
