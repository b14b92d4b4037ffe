"""What the CDK app is told through context, validated once in `app.py`."""

import sys
from typing import Any

from pydantic import BaseModel, Field

from infra.constants import (
    CTX_INGEST_URL,
    CTX_LAMBDA_PYTHON,
    CTX_LOCAL,
    CTX_MEDIA_BASE_URL,
    CTX_STAGE,
    CTX_VOD_RETENTION_DAYS,
)

# The Lambda runtime on AWS; wheels for the layer are fetched for this version.
AWS_LAMBDA_PYTHON = "3.12"


class InfraConfig(BaseModel):
    """`local` selects what differs on a local emulator; the AWS shape is the default.

    Locally the emulator runs Lambda code with its own interpreter (the same `python3` the
    Makefile builds both virtualenvs from), so compiled wheels are bundled for that version.
    """

    local: bool = False
    stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    lambda_python: str = Field(default=AWS_LAMBDA_PYTHON, pattern=r"^3\.\d{1,2}$")
    # Where viewers fetch HLS (`<base>/broadcasts/...`) and where streamers point OBS. Locally
    # `make dev` passes its edge and worker; in AWS they default to unset until the CDN and
    # ingest stacks provide them.
    media_base_url: str | None = Field(default=None, pattern=r"^https?://\S+[^/]$")
    ingest_url: str | None = Field(default=None, pattern=r"^rtmps?://\S+$")
    # Broadcast media (live segments and VODs share objects) expire this long after upload;
    # the VOD records' TTL uses the same number (`LETSLIVE_VOD_RETENTION_DAYS`).
    vod_retention_days: int = Field(default=30, ge=1, le=3650)

    @classmethod
    def from_context(cls, get: Any) -> "InfraConfig":
        """Build from a `node.try_get_context`-like getter; strings from `-c` are parsed."""
        local = str(get(CTX_LOCAL) or "false").lower() in ("1", "true", "yes")
        default_python = f"{sys.version_info.major}.{sys.version_info.minor}" if local else AWS_LAMBDA_PYTHON
        return cls(
            local=local,
            stage=get(CTX_STAGE) or ("local" if local else "prod"),
            lambda_python=get(CTX_LAMBDA_PYTHON) or default_python,
            media_base_url=get(CTX_MEDIA_BASE_URL) or None,
            ingest_url=get(CTX_INGEST_URL) or None,
            vod_retention_days=int(get(CTX_VOD_RETENTION_DAYS) or 30),
        )
