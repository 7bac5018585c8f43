"""``streams:`` in the project file is validated like the rest: file, line, did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidegauge.config import ConfigError, load_project

GOOD = """\
warehouses:
  - type: duckdb
    path: w.duckdb
streams:
  - name: events
    type: kafka
    bootstrap_servers: 127.0.0.1:9092
    client: {security.protocol: SASL_SSL, sasl.username: "${KAFKA_USER:-u}"}
    include: ["orders", "bids*"]
    consumer_groups: ["*"]
    format: json
    timestamp_field: created_at
    pii_fields: [email]
    bucket: 5m
    sinks:
      - {topic: orders, table: raw.orders, table_timestamp: created_at}
"""


def _load(tmp_path: Path, text: str) -> object:
    (tmp_path / "tidegauge.yml").write_text(text)
    return load_project(tmp_path / "tidegauge.yml")


def test_a_stream_loads_with_its_sinks_and_client_settings(tmp_path: Path) -> None:
    project = _load(tmp_path, GOOD)
    (s,) = project.streams  # type: ignore[attr-defined]
    assert s.name == "events" and s.bucket_seconds == 300
    assert s.client["sasl.username"] == "u"
    assert s.sinks[0].table == "raw.orders"
    assert s.matches_topic("bids_eu") and not s.matches_topic("payments")
    assert s.namespace == "kafka://127.0.0.1:9092"


def test_a_misspelt_key_names_file_line_and_the_right_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, GOOD.replace("timestamp_field", "timestamp_feild"))
    msg = str(e.value)
    assert "tidegauge.yml:12" in msg
    assert "did you mean 'timestamp_field'" in msg


def test_a_sink_on_an_unwatched_topic_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sink topic 'payments' is not matched"):
        _load(tmp_path, GOOD.replace("{topic: orders", "{topic: payments"))


def test_bad_bucket_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="whole minutes"):
        _load(tmp_path, GOOD.replace("bucket: 5m", "bucket: 7m"))
    twice = GOOD + GOOD.split("streams:\n", 1)[1]
    with pytest.raises(ConfigError, match="duplicate stream name"):
        _load(tmp_path, twice)


def test_settings_tidegauge_owns_cannot_be_overridden(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"group\.id"):
        _load(tmp_path, GOOD.replace("client: {", "client: {group.id: x, "))
