from typing import Literal

from pydantic import BaseModel, Field


class CheckResult(BaseModel):
    """One dependency probe: did it answer, and how long did it take."""

    ok: bool
    latency_ms: float = Field(ge=0)
    error: str | None = None


class HealthReport(BaseModel):
    service: str
    version: str
    status: Literal["ok", "degraded"]
    checks: dict[str, CheckResult]
