"""``streams:`` in the project file: Kafka topics and consumer groups to watch.

>>> s = KafkaStreamConfig(name="events", bootstrap_servers="127.0.0.1:9092", include=["orders"])
>>> s.bucket_seconds, s.matches_topic("orders"), s.matches_topic("__consumer_offsets")
(60, True, False)
"""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["KafkaStreamConfig", "SchemaRegistryConfig", "SinkConfig", "Streams"]


def _duration(value: Any) -> timedelta:
    # the one duration grammar of the project file (30s, 15m, 6h, 1h30m)
    from tidegauge.core.units import parse_duration

    return parse_duration(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SinkConfig(_Strict):
    """A table a topic lands in: lineage edge and per-bucket reconciliation of counts."""

    topic: str = Field(..., min_length=1)
    table: str = Field(..., description="schema.table in a configured warehouse")
    table_timestamp: str | None = Field(
        None, description="the sink's event-time column; without it there is no reconciliation"
    )
    warehouse: str | None = Field(None, description="default: the only or first warehouse")

    @field_validator("table")
    @classmethod
    def _qualified(cls, v: str) -> str:
        if v.count(".") < 1:
            raise ValueError(f"'{v}' is not schema.table")
        return v


class SchemaRegistryConfig(_Strict):
    url: str


class KafkaStreamConfig(_Strict):
    """One Kafka cluster (or Kafka-compatible broker) and what to watch on it."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = Field(..., min_length=1, description="host:port[,host:port...]")
    client: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="librdkafka settings (security.protocol, sasl.*...)"
    )
    include: list[str] = Field(default_factory=lambda: ["*"], description="topic globs")
    exclude: list[str] = Field(default_factory=list, description="topic globs left out")
    consumer_groups: list[str] = Field(
        default_factory=lambda: ["*"], description="globs of the groups whose lag to watch"
    )
    format: Literal["json", "avro", "raw"] = "json"
    schema_registry: SchemaRegistryConfig | None = None
    timestamp_field: str | None = Field(
        None, description="event time in the payload (dotted path); default: message timestamp"
    )
    pii_fields: list[str] = Field(
        default_factory=list, description="payload paths whose values are never stored"
    )
    sinks: list[SinkConfig] = Field(default_factory=list)
    bucket: timedelta = Field(timedelta(minutes=1), description="metric bucket (1m, 5m...)")
    history_days: int = Field(
        7, ge=0, le=90, description="message counts backfilled from retained history"
    )
    sample_per_partition: int = Field(
        200, ge=0, le=100_000, description="messages profiled per partition per poll"
    )
    sample_partitions: int = Field(
        1000,
        ge=1,
        description="partitions sampled per poll at most; past it they take turns over polls",
    )
    sample_messages: int = Field(
        50_000,
        ge=1,
        description="messages profiled per poll at most, across partitions (about)",
    )
    max_message_bytes: int = Field(
        1_000_000, ge=1, description="larger payloads are counted as oversized, not parsed"
    )
    categorical_max_distinct: int = Field(
        50, ge=1, le=10_000, description="a string field with at most this many values"
    )
    window: int = Field(10, ge=3, le=1000, description="polls the consumer status looks at")
    settle: timedelta = Field(
        timedelta(minutes=5), description="how long after a bucket its sink is reconciled"
    )
    timeout: timedelta = Field(timedelta(seconds=10), description="broker calls give up after")
    poll_interval: timedelta = Field(timedelta(seconds=30), description="for `tidegauge watch`")

    @field_validator("bucket", "settle", "timeout", "poll_interval", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return _duration(v)

    @field_validator("bucket")
    @classmethod
    def _whole_minutes(cls, v: timedelta) -> timedelta:
        secs = int(v.total_seconds())
        if secs < 60 or secs % 60 or 86400 % secs:
            raise ValueError(f"bucket must be whole minutes dividing a day, not {secs} s")
        return v

    @field_validator("client")
    @classmethod
    def _no_overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        owned = {"bootstrap.servers", "group.id", "enable.auto.commit"}
        bad = sorted(owned & set(v))
        if bad:
            raise ValueError(f"{', '.join(bad)} are set by tidegauge, not in client:")
        return v

    @model_validator(mode="after")
    def _avro_needs_registry(self) -> KafkaStreamConfig:
        if self.format == "avro" and self.schema_registry is None:
            raise ValueError("format: avro needs schema_registry: {url: ...}")
        for s in self.sinks:
            if not self.matches_topic(s.topic):
                raise ValueError(f"sink topic '{s.topic}' is not matched by include/exclude")
        return self

    @property
    def bucket_seconds(self) -> int:
        return int(self.bucket.total_seconds())

    def matches_topic(self, topic: str) -> bool:
        if topic.startswith("__"):  # the broker's own topics (offsets, transactions)
            return False
        return any(fnmatchcase(topic, g) for g in self.include) and not any(
            fnmatchcase(topic, g) for g in self.exclude
        )

    def matches_group(self, group: str) -> bool:
        return any(fnmatchcase(group, g) for g in self.consumer_groups)

    @property
    def probe_group(self) -> str:
        """tidegauge's own group id: it only reads with assign/seek and never commits."""
        return f"tidegauge-probe-{self.name}"

    @property
    def namespace(self) -> str:
        """The OpenLineage dataset namespace: ``kafka://`` and the first bootstrap server."""
        return f"kafka://{self.bootstrap_servers.split(',')[0].strip()}"


def _unique(streams: list[KafkaStreamConfig]) -> list[KafkaStreamConfig]:
    names = [s.name for s in streams]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate stream name(s): {', '.join(dupes)}")
    return streams


#: the ``streams:`` field of the project
Streams = Annotated[list[KafkaStreamConfig], AfterValidator(_unique)]
