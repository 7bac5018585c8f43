"""What every command shares: the project, the store, JSON output and error exits.

Nothing heavy is imported here at module level: ``tidegauge --help`` and ``--version`` load
this module, and must not pay for pydantic, SQLAlchemy, rich or the warehouse drivers
(tests/cli/test_startup.py checks it). Each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

    from tidegauge.config import Project
    from tidegauge.store.store import Store

#: the width of tables when the output is not a terminal (a pipe, a file, CI logs): wide
#: enough that no cell is cut, since a script or a log reader cannot widen the window
PIPE_WIDTH = 400

#: the one documented shape of every JSON list, on the CLI (``--json``) and the REST API
LIST_KEYS = ("items", "total", "limit", "offset")


class _LazyConsole:
    """A rich Console made on first use, so that importing a command costs nothing.

    On a terminal it is as wide as the window; piped, it is :data:`PIPE_WIDTH` wide
    (``COLUMNS`` still wins), so tables keep every character of every cell.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            tty = stream.isatty()
            width = None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH
            self._console = Console(stderr=self._stderr, width=width)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


console: Any = _LazyConsole()
errors: Any = _LazyConsole(stderr=True)


def reset_consoles() -> None:
    """Forget the consoles (tests swap ``sys.stdout`` between invocations)."""
    console._console = None
    errors._console = None


class ProjectFileMissing(Exception):
    """No project file where one was looked for; the message says how to make one."""


@dataclass
class CliState:
    config_path: Path
    _project: Project | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    def _project_file(self) -> Path:
        path = self.config_path
        target = path / "tidegauge.yml" if path.is_dir() else path
        if not target.exists():
            raise ProjectFileMissing(
                f"no project file at {target}. Create one with "
                "`tidegauge init --warehouse URL` (e.g. "
                "postgresql://user@host/db, duckdb:///path/file.duckdb), "
                "or point at yours with --config PATH"
            )
        return target

    @property
    def project(self) -> Project:
        if self._project is None:
            from tidegauge.config import load_project

            self._project = load_project(self._project_file())
        return self._project

    @property
    def store(self) -> Store:
        """The store, opened without loading the project when nothing else needs it: its
        URL is read from the file directly (see :func:`light_store_url`)."""
        if self._store is None:
            from tidegauge.store.store import Store

            url = None if self._project is not None else light_store_url(self._project_file())
            self._store = Store.open(url or self.project.store_url())
        return self._store


def light_store_url(project_file: Path) -> str | None:
    """The project's store URL read straight from the YAML, without validating the project
    (pydantic, the monitors and the warehouse models cost a read-only command most of its
    start-up); None when ``store`` is not plainly a mapping with a text ``url``, so that the
    full load reports the problem at its file:line."""
    from tidegauge.store.location import DEFAULT_STORE_URL, resolve_store_url
    from tidegauge.yamlsource import load_yaml

    data, smap = load_yaml(project_file)
    store = data.get("store", {}) if isinstance(data, dict) else None
    url = store.get("url", DEFAULT_STORE_URL) if isinstance(store, dict) else None
    if not isinstance(url, str):
        return None
    return resolve_store_url(url, smap.path.parent.resolve())


def fail(message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    # escaped: a message naming an extra (`tidegauge[postgres]`) is not rich markup
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def warn(message: str) -> None:
    from rich.markup import escape

    errors.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


def page(
    items: list[Any], *, total: int | None = None, limit: int, offset: int = 0
) -> dict[str, Any]:
    """A list in the shape the REST API answers: ``{items, total, limit, offset}``.

    >>> page([1, 2], limit=50)
    {'items': [1, 2], 'total': 2, 'limit': 50, 'offset': 0}
    """
    return {
        "items": items,
        "total": len(items) + offset if total is None else total,
        "limit": limit,
        "offset": offset,
    }


def minute(t: datetime | None) -> str:
    """A time to the minute, as every CLI table shows it.

    >>> from datetime import UTC
    >>> minute(datetime(2026, 3, 2, 6, 30, 12, 345678, tzinfo=UTC))
    '2026-03-02 06:30'
    """
    return "" if t is None else f"{t:%Y-%m-%d %H:%M}"


def since_instant(text: str, now: datetime) -> datetime:
    """``--since``: a time ago (``24h``, ``7d``, ``1h30m``) or an ISO-8601 timestamp.

    >>> from datetime import UTC
    >>> since_instant("24h", datetime(2026, 3, 2, 6, 0, tzinfo=UTC)).isoformat()
    '2026-03-01T06:00:00+00:00'
    >>> since_instant("2026-03-01T06:00Z", datetime(2026, 3, 2, tzinfo=UTC)).hour
    6
    """
    from tidegauge.core.clock import parse_instant
    from tidegauge.core.units import parse_duration

    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueError(
            f"--since '{text}' is neither a time ago (24h, 7d, 1h30m) "
            "nor an ISO-8601 timestamp (2026-03-01T06:00Z)"
        ) from None


def known_tables(store: Any) -> list[Any]:
    """The tables the store knows (the last discovery), for did-you-mean checks."""
    from tidegauge.cli.matches import Known

    return [Known(t.ref.warehouse, t.ref.schema, t.ref.name) for t in store.tables()]
