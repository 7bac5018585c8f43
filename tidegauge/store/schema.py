"""The metadata store's tables (SQLAlchemy Core). Alembic migrations create them.

Only aggregates live here: metric values, schema snapshots, alerts and incidents —
never raw rows. Categorical values are stored only for low-cardinality columns.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tables = Table(
    "tables",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("warehouse", String(200), nullable=False),
    Column("database", String(200), nullable=False, server_default=""),
    Column("schema", String(200), nullable=False),
    Column("name", String(400), nullable=False),
    Column("kind", String(20), nullable=False, server_default="table"),
    Column("row_count", BigInteger),
    Column("bytes", BigInteger),
    _ts("last_modified"),
    _ts("first_seen", nullable=False),
    _ts("last_seen", nullable=False),
    _ts("dropped_at"),
    Column("owner", String(200)),
    Column("tags", JSON, nullable=False, default=list),
    Column("dbt_unique_id", String(400)),
    Column("description", Text),
    Column("timestamp_column", String(400)),
    UniqueConstraint("warehouse", "database", "schema", "name", name="uq_tables_identity"),
    # live tables by name: the web's table lists page through it (prefixes on MariaDB, whose
    # index keys cannot hold three full utf8mb4 names)
    Index(
        "ix_tables_live_order",
        "dropped_at",
        "warehouse",
        "schema",
        "name",
        mysql_length={"warehouse": 150, "schema": 150, "name": 300},
    ),
)

columns = Table(
    "columns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(400), nullable=False),
    Column("data_type", String(200), nullable=False),
    Column("family", String(20), nullable=False),
    Column("nullable", Boolean, nullable=False, default=True),
    Column("ordinal", Integer, nullable=False, default=0),
    Column("tags", JSON, nullable=False, default=list),
    UniqueConstraint("table_id", "name", name="uq_columns_table_name"),
)

schema_snapshots = Table(
    "schema_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    _ts("taken_at", nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("columns", JSON, nullable=False),
    Index("ix_schema_snapshots_table_taken", "table_id", "taken_at"),
)

schema_events = Table(
    "schema_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    _ts("detected_at", nullable=False),
    Column("change", String(30), nullable=False),
    Column("column_name", String(400)),
    Column("old_value", String(400)),
    Column("new_value", String(400)),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_schema_events_table", "table_id", "detected_at"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("column_name", String(400), nullable=False, server_default=""),
    Column("segment", String(400), nullable=False, server_default=""),
    Column("metric", String(100), nullable=False),
    _ts("bucket_start", nullable=False),
    Column("bucket_seconds", Integer, nullable=False, server_default="0"),
    Column("value", Float),
    _ts("collected_at", nullable=False),
    Column("run_id", BigInteger),
    UniqueConstraint(
        "table_id",
        "column_name",
        "segment",
        "metric",
        "bucket_start",
        name="uq_metric_points_series_bucket",
    ),
    # history reads are one table's time window: on PostgreSQL this index alone answers
    # them, reading only the window's entries (migration 0002, bench/store_history.py)
    Index(
        "ix_metric_points_table_time",
        "table_id",
        "bucket_start",
        postgresql_include=["metric", "column_name", "segment", "bucket_seconds", "value"],
    ),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(400), nullable=False, unique=True),
    Column("table_id", ForeignKey("tables.id", ondelete="SET NULL")),
    Column("kind", String(50), nullable=False),
    Column("config", JSON, nullable=False, default=dict),
    Column("source", String(50), nullable=False, server_default="auto"),
    Column("enabled", Boolean, nullable=False, default=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    _ts("as_of", nullable=False),
    Column("status", String(20), nullable=False),
    Column("stats", JSON, nullable=False, default=dict),
    Column("error", Text),
    Column("holder", String(200)),
)

run_tables = Table(
    "run_tables",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("seconds", Float),
    Column("points", Integer, nullable=False, default=0),
    # a table's previous runs (what to test, what to re-check): the key leads with run_id
    Index("ix_run_tables_table", "table_id", "run_id"),
)

cost_ledger = Table(
    "cost_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE")),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE")),
    Column("monitor", String(200), nullable=False),
    _ts("at", nullable=False),
    Column("seconds", Float, nullable=False),
    Column("rows", BigInteger),
    Column("bytes", BigInteger),
    Column("sql", Text),
    Index("ix_cost_ledger_run", "run_id"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("fingerprint", String(800), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("column_name", String(400)),
    Column("segment", String(400)),
    Column("metric", String(100), nullable=False),
    Column("observed", Float),
    Column("expected", Float),
    Column("lower", Float),
    Column("upper", Float),
    _ts("data_time", nullable=False),
    _ts("detected_at", nullable=False),
    Column("severity", String(20), nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("explanation", JSON, nullable=False, default=dict),
    Column("feedback", String(30)),
    _ts("feedback_at"),
    Column("incident_id", ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("run_id", BigInteger),
    Index("ix_alerts_table_time", "table_id", "data_time"),
    Index("ix_alerts_detected", "detected_at"),
    Index("ix_alerts_incident", "incident_id"),
    Index("ix_alerts_data_time", "data_time"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("status", String(30), nullable=False),
    Column("severity", String(20), nullable=False),
    # why it has that level: short plain-language reasons (core/severity.py)
    Column("severity_reason", JSON, nullable=True),
    Column("kind", String(40), nullable=False),
    Column("table_id", ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("column_name", String(400)),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("owner", String(200)),
    _ts("data_time", nullable=False),
    _ts("detected_at", nullable=False),
    _ts("updated_at", nullable=False),
    Column("impact", JSON, nullable=False, default=dict),
    Column("root_cause", JSON, nullable=False, default=list),
    Column("root_alert_id", BigInteger),
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_table_status", "table_id", "status"),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    _ts("at", nullable=False),
    Column("type", String(30), nullable=False),
    Column("actor", String(200)),
    Column("text", Text, nullable=False, server_default=""),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_incident_events_incident", "incident_id", "at"),
)

lineage_nodes = Table(
    "lineage_nodes",
    metadata,
    Column("id", String(400), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("origin", String(40), nullable=False),
    _ts("updated_at", nullable=False),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(1200), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("origin", String(40), nullable=False),
    _ts("updated_at", nullable=False),
)

lineage_events = Table(
    "lineage_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("source", String(40), nullable=False),
    _ts("received_at", nullable=False),
    Column("payload", JSON, nullable=False),
)

root_cause_events = Table(
    "root_cause_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("node", String(400), nullable=False),
    _ts("at", nullable=False),
    Column("details", JSON, nullable=False, default=dict),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedup_key", String(400), nullable=False, unique=True),
    Column("channel", String(200), nullable=False),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE")),
    Column("action", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("created_at", nullable=False),
    _ts("next_attempt_at", nullable=False),
    _ts("sent_at"),
    Column("last_error", Text),
    Column("claimed_by", String(200)),
    _ts("claimed_until"),
    _ts("first_try_at"),  # the retry budget counts from here (revision 0005)
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(400), primary_key=True),
    Column("holder", String(200), nullable=False),
    _ts("expires_at", nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("series", String(1200), nullable=False),
    Column("value", String(30), nullable=False),
    _ts("data_time", nullable=False),
    _ts("at", nullable=False),
    Column("actor", String(200)),
    Index("ix_feedback_series", "series"),
)
