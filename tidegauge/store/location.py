"""Where the store is: the default URL, and a relative SQLite path resolved against the
project folder. Light on purpose (no pydantic, no SQLAlchemy): commands that only read the
store find it without loading the project's models."""

from __future__ import annotations

from pathlib import Path

DEFAULT_STORE_URL = "sqlite:///.tidegauge/state.db"


def resolve_store_url(url: str, root: Path) -> str:
    """``url`` with a relative SQLite path made absolute under ``root``.

    >>> resolve_store_url("sqlite:///state.db", Path("/p"))
    'sqlite:////p/state.db'
    >>> resolve_store_url("sqlite:////abs/state.db", Path("/p"))
    'sqlite:////abs/state.db'
    >>> resolve_store_url("postgresql://u@h/db", Path("/p"))
    'postgresql://u@h/db'
    """
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(root / url[len(prefix) :])
    return url
