"""What every command shares: the project, the store, JSON output and error exits."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from tidegauge.config import Project, load_project
from tidegauge.store.store import Store

console = Console()
errors = Console(stderr=True)


@dataclass
class CliState:
    config_path: Path
    _project: Project | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = load_project(self.config_path)
        return self._project

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.project.store_url())
        return self._store


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


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
