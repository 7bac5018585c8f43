"""The Celery app for ``celery -A tidegauge.fanout.celery_app worker``.

It reads the broker, result backend and queue from the project file named by
``TIDEGAUGE_CONFIG`` (default ``./tidegauge.yml``); ``tidegauge worker`` does the same
with ``--config``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tidegauge.config import load_project
from tidegauge.fanout.celery_engine import make_app
from tidegauge.fanout.chunks import CONFIG_ENV, preload

_path = Path(os.environ.get(CONFIG_ENV) or "tidegauge.yml")
os.environ[CONFIG_ENV] = str(_path.resolve())
_project = load_project(_path)
app = make_app(_project.execution)
preload(_project)
