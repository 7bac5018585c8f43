"""Opening a store that is already at the newest revision skips alembic (every command opens
the store; importing alembic and loading its scripts cost ~0.3 s each time), and the newest
revision read from the scripts is alembic's own head; an older store is still migrated."""

from __future__ import annotations

import alembic.command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tidegauge.store.engine import MIGRATIONS, _script_head, make_engine, migrate


def test_the_head_read_from_the_scripts_is_alembics():
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    assert _script_head() == ScriptDirectory.from_config(cfg).get_current_head()


def test_a_current_store_skips_alembic_and_an_older_one_migrates(tmp_path, monkeypatch):
    calls: list[str] = []
    real = alembic.command.upgrade

    def counting(cfg, revision, *args, **kwargs):
        calls.append(revision)
        return real(cfg, revision, *args, **kwargs)

    monkeypatch.setattr(alembic.command, "upgrade", counting)
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)  # a new store: migrated
    assert calls == ["head"]
    migrate(engine)  # current: nothing to do
    assert calls == ["head"]
    with engine.begin() as c:  # an older store (stamped back one revision)
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '0003'")
        c.exec_driver_sql("ALTER TABLE incidents DROP COLUMN severity_reason")
    migrate(engine)
    assert calls == ["head", "head"]
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
            _script_head()
        )
