"""What every part of the project file shares: the strict model base (an unknown key is an
error; the loader suggests the closest valid one), bucket sizes and durations."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        return 3600 if self is Bucket.HOUR else 86400


Duration = Annotated[timedelta, Field(json_schema_extra={"examples": ["30m", "6h", "2d"]})]
