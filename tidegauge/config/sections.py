"""The project file's other sections: ``warehouses:`` (one tagged branch per engine, plus
engines plugged in through entry points), ``store:``, ``dbt:``, ``openlineage:``, ``web:``
and ``execution:``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PlainValidator, Tag, ValidationError, field_validator

from tidegauge.config.base import Duration, Strict
from tidegauge.core.units import parse_duration
from tidegauge.store.location import DEFAULT_STORE_URL
from tidegauge.warehouses.base import WarehouseConfigBase, WarehouseError
from tidegauge.warehouses.registry import (
    WAREHOUSES,
    builtin_config_classes,
    config_class,
    known_types,
)

#: the tag of an engine registered through the ``tidegauge.warehouses`` entry points
EXTERNAL = "external"


def _warehouse_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(kind) if kind in WAREHOUSES else EXTERNAL


def _external_warehouse(value: Any) -> WarehouseConfigBase:
    """A ``warehouses:`` entry of a type the registry finds through entry points."""
    if isinstance(value, WarehouseConfigBase):
        return value
    if not isinstance(value, dict) or not value.get("type"):
        raise ValueError(f"a warehouse needs a 'type:' (one of {', '.join(known_types())})")
    try:
        model = config_class(str(value["type"]))
    except WarehouseError as e:
        raise ValueError(str(e)) from None
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise ValueError(
            "; ".join(f"{'.'.join(str(p) for p in x['loc'])}: {x['msg']}" for x in e.errors())
        ) from None


if TYPE_CHECKING:
    WarehouseConfig = WarehouseConfigBase
else:
    # One tagged branch per built-in engine (so errors point at the exact key), and one for
    # engines plugged in through entry points: validated by their own adapter's CONFIG.
    _BRANCHES = (
        *(Annotated[c, Tag(k)] for k, c in builtin_config_classes().items()),
        Annotated[WarehouseConfigBase, PlainValidator(_external_warehouse), Tag(EXTERNAL)],
    )
    WarehouseConfig = Annotated[
        Union[_BRANCHES],  # noqa: UP007 -- built from the registry at run time
        Discriminator(_warehouse_tag),
    ]


class RetentionConfig(Strict):
    """How long metric history is kept: what ``tidegauge store prune`` applies by default."""

    fine_days: int = Field(120, ge=1, description="keep finer-than-daily points this long")
    keep_days: int | None = Field(
        730, ge=1, description="delete every point older than this (null: keep forever)"
    )


class StoreConfig(Strict):
    url: str = Field(DEFAULT_STORE_URL, description="SQLAlchemy URL of the metadata store")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class DbtConfig(Strict):
    manifest: str = Field(..., description="path to manifest.json; artefacts beside it are read")


class OpenLineageConfig(Strict):
    url: str | None = Field(None, description="emit tidegauge runs as OpenLineage events here")
    namespace: str = "tidegauge"
    api_key: str | None = None


class WebConfig(Strict):
    base_url: str = Field("http://127.0.0.1:8765", description="used in links in notifications")
    read_tokens: list[str] = Field(default_factory=list)
    admin_tokens: list[str] = Field(default_factory=list)


class ExecutionConfig(Strict):
    """Where per-table work runs: in this process (``local``), as Celery tasks that
    workers started with ``tidegauge worker`` take from a broker (``celery``), or as ops of a
    Dagster job, a chunk per op, in Dagster's multiprocess executor (``dagster``)."""

    type: Literal["local", "celery", "dagster"] = "local"
    broker: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker URL: redis://… or amqp://…"
    )
    result_backend: str | None = Field(
        None,
        description="where workers put chunk results (default: the Redis broker, "
        "or rpc:// for an AMQP broker)",
    )
    queue: str = Field("tidegauge", min_length=1, description="the queue workers listen on")
    chunk_size: int = Field(200, ge=1, le=100_000, description="tables per task")
    timeout: Duration = Field(
        timedelta(hours=1), description="how long a run waits for all its chunks"
    )
    retries: int = Field(1, ge=0, le=5, description="re-sends of a chunk whose task failed")
    max_concurrent: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="dagster: chunks run at once, each in its own process (default: CPUs)",
    )
    detect: Literal["coordinator", "workers"] = Field(
        "coordinator",
        description="coordinator: detection over all tables at once, as one process does "
        "(the same false-discovery-rate family); workers: each chunk detects its own tables",
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)

    @field_validator("broker", "result_backend")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"'{v}' is not a URL (e.g. redis://127.0.0.1:6379/0)")
        return v
