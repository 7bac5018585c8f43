"""``status`` counts with one query each and finds the store without loading the project's
models; the light read of ``store.url`` resolves exactly as the full project does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.conftest import NOW, seed
from tidegauge.cli.common import light_store_url
from tidegauge.cli.project import status_counts
from tidegauge.config import load_project
from tidegauge.store.store import Store


@pytest.mark.parametrize(
    "store_part",
    [
        "",
        "store: {url: 'sqlite:///state.db'}\n",
        "store: {url: 'sqlite:///deep/er/state.db'}\n",
        "store: {url: 'sqlite:////abs/state.db'}\n",
        "store: {url: 'sqlite:///:memory:'}\n",
        "store:\n  url: postgresql://u@h/${TG_STATUS_DB}\n",
        "store: {url: 'postgresql://u@h/${TG_STATUS_MISSING:-fallback}'}\n",
    ],
)
def test_light_store_url_is_the_projects(tmp_path, monkeypatch, store_part):
    monkeypatch.setenv("TG_STATUS_DB", "obs")
    monkeypatch.chdir(tmp_path.parent)  # relative paths are the file's folder's, not cwd's
    path = tmp_path / "tidegauge.yml"
    path.write_text("warehouses: [{type: duckdb, path: w.duckdb}]\n" + store_part)
    assert light_store_url(path) == load_project(path).store_url()


def test_a_store_section_the_light_read_cannot_take_goes_to_the_full_load(tmp_path):
    path = tmp_path / "tidegauge.yml"
    for text in ("store: [1]\n", "store: {url: 5}\n", "- a list\n"):
        path.write_text(text)
        assert light_store_url(path) is None


def test_status_counts(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    seeded = seed(store)
    # the seeded alerts were detected at NOW: inside 24 h of NOW + 23 h, outside at NOW + 25 h
    assert status_counts(store, NOW + timedelta(hours=23)) == {
        "tables": len(seeded.store.tables()),
        "open_incidents": 1,
        "alerts_last_24h": 2,
        "undelivered_notifications": 0,
    }
    assert status_counts(store, NOW + timedelta(hours=25))["alerts_last_24h"] == 0
    store.close()
