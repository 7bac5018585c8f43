"""Choosing bucketing and freshness columns by type and name."""

from __future__ import annotations

from tidegauge.core.model import ColumnInfo, TypeFamily
from tidegauge.core.timestamps import choose_timestamps, rank_candidates

F = TypeFamily


def cols(*spec: tuple[str, TypeFamily]) -> list[ColumnInfo]:
    return [ColumnInfo(n, f.value.upper(), f, ordinal=i) for i, (n, f) in enumerate(spec)]


def test_event_time_buckets_and_load_time_freshness() -> None:
    c = cols(
        ("id", F.INTEGER),
        ("updated_at", F.TIMESTAMP),
        ("created_at", F.TIMESTAMP),
        ("_loaded_at", F.TIMESTAMP),
    )
    choice = choose_timestamps(c)
    assert choice.bucket is not None and choice.bucket.name == "created_at"
    assert choice.freshness is not None and choice.freshness.name == "_loaded_at"


def test_update_time_is_freshness_when_no_load_time() -> None:
    choice = choose_timestamps(cols(("created_at", F.TIMESTAMP), ("updated_at", F.TIMESTAMP)))
    assert choice.bucket is not None and choice.bucket.name == "created_at"
    assert choice.freshness is not None and choice.freshness.name == "updated_at"


def test_only_event_time_serves_both() -> None:
    choice = choose_timestamps(cols(("amount", F.FLOAT), ("event_time", F.TIMESTAMP)))
    assert choice.bucket == choice.freshness
    assert choice.bucket is not None and choice.bucket.name == "event_time"


def test_types_matter_more_than_names() -> None:
    # a string called created_at cannot be bucketed; a date beats nothing
    choice = choose_timestamps(cols(("created_at", F.STRING), ("order_date", F.DATE)))
    assert choice.bucket is not None and choice.bucket.name == "order_date"
    assert choose_timestamps(cols(("created_at", F.STRING))).bucket is None


def test_timestamp_beats_date_and_avoids_deleted_and_expiry() -> None:
    c = cols(
        ("deleted_at", F.TIMESTAMP),
        ("expires_at", F.TIMESTAMP),
        ("birth_date", F.DATE),
        ("shipped_at", F.TIMESTAMP),
    )
    assert rank_candidates(c)[0].name == "shipped_at"
    choice = choose_timestamps(c)
    assert choice.bucket is not None and choice.bucket.name == "shipped_at"


def test_exact_names_rank_and_case_and_underscores() -> None:
    c = cols(("TS", F.TIMESTAMP), ("Some_Time", F.TIMESTAMP))
    choice = choose_timestamps(c)
    assert choice.bucket is not None and choice.bucket.name == "TS"
    c = cols(("_FIVETRAN_SYNCED", F.TIMESTAMP), ("created_at", F.TIMESTAMP))
    choice = choose_timestamps(c)
    assert choice.freshness is not None and choice.freshness.name == "_FIVETRAN_SYNCED"


def test_override_wins_and_a_typo_is_reported() -> None:
    c = cols(("created_at", F.TIMESTAMP), ("ingest_ts", F.TIMESTAMP))
    choice = choose_timestamps(c, "INGEST_TS")
    assert choice.bucket is not None and choice.bucket.name == "ingest_ts"
    assert choice.freshness == choice.bucket
    bad = choose_timestamps(c, "ingested")
    assert bad.bucket is None and "'ingested' is not a column" in bad.reason


def test_no_temporal_column() -> None:
    choice = choose_timestamps(cols(("id", F.INTEGER)))
    assert choice.bucket is None and choice.freshness is None
    assert choice.reason == "no timestamp or date column"
