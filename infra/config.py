"""What the CDK app is told through context, validated once in `app.py`."""

import sys
from typing import Any

from pydantic import BaseModel, Field, model_validator

from infra.constants import (
    CTX_ALARM_EMAIL,
    CTX_CERTIFICATE_ARN,
    CTX_DOMAIN_NAME,
    CTX_INGEST_BROADCASTS_PER_TASK,
    CTX_INGEST_CERTIFICATE_ARN,
    CTX_INGEST_DOMAIN_NAME,
    CTX_INGEST_MAX_TASKS,
    CTX_INGEST_URL,
    CTX_LAMBDA_PYTHON,
    CTX_LOCAL,
    CTX_MEDIA_BASE_URL,
    CTX_NAG,
    CTX_STAGE,
    CTX_VOD_RETENTION_DAYS,
)
from letslive.constants import MEDIA_PREFIX

# The Lambda runtime on AWS; wheels for the layer are fetched for this version.
AWS_LAMBDA_PYTHON = "3.12"
# A lower-case DNS host name (custom domains).
HOST_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"


class InfraConfig(BaseModel):
    """`local` selects what differs on a local emulator; the AWS shape is the default.

    Locally the emulator runs Lambda code with its own interpreter (the same `python3` the
    Makefile builds both virtualenvs from), so compiled wheels are bundled for that version.
    """

    local: bool = False
    stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    lambda_python: str = Field(default=AWS_LAMBDA_PYTHON, pattern=r"^3\.\d{1,2}$")
    # Where viewers fetch HLS (`<base>/broadcasts/...`) and where streamers point OBS. Locally
    # `make dev` passes its edge and worker. In AWS the media base defaults to the CDN's `/hls`
    # (see `_default_media_base_url`); the ingest URL to unset until the ingest stack provides it.
    media_base_url: str | None = Field(default=None, pattern=r"^(https?://\S+[^/]|/[^/\s]\S*[^/])$")
    ingest_url: str | None = Field(default=None, pattern=r"^rtmps?://\S+$")
    # Broadcast media (live segments and VODs share objects) expire this long after upload;
    # the VOD records' TTL uses the same number (`LETSLIVE_VOD_RETENTION_DAYS`).
    vod_retention_days: int = Field(default=30, ge=1, le=3650)
    # Fail the synth on unacknowledged cdk-nag findings (`infra/nag.py`).
    nag: bool = False
    # The CloudFront distribution's custom domain (lower-case host name) and its ACM certificate,
    # which CloudFront only takes from us-east-1; both or neither.
    domain_name: str | None = Field(default=None, max_length=253, pattern=HOST_NAME)
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$"
    )

    # The ingest tier (AWS only, `stacks/ingest_stack.py`). It scales out to `ingest_max_tasks`
    # tasks, aiming at `ingest_broadcasts_per_task` live broadcasts each (2 vCPU sustain two
    # 1080p ladders with the source copied). RTMPS needs a host name the operator points at the
    # load balancer and an ACM certificate for it in the stack's region: both or neither.
    ingest_max_tasks: int = Field(default=10, ge=1, le=100)
    ingest_broadcasts_per_task: float = Field(default=2.0, gt=0, le=20)
    ingest_domain_name: str | None = Field(default=None, max_length=253, pattern=HOST_NAME)
    ingest_certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
    )
    # Where the alarms are mailed (AWS only); the address confirms the SNS subscription once.
    alarm_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$")

    @model_validator(mode="after")
    def _ingest_domain_with_certificate(self) -> "InfraConfig":
        if (self.ingest_domain_name is None) != (self.ingest_certificate_arn is None):
            raise ValueError(
                f"{CTX_INGEST_DOMAIN_NAME} and {CTX_INGEST_CERTIFICATE_ARN} are given together or not at all"
            )
        return self

    @model_validator(mode="after")
    def _domain_with_certificate(self) -> "InfraConfig":
        if (self.domain_name is None) != (self.certificate_arn is None):
            raise ValueError(f"{CTX_DOMAIN_NAME} and {CTX_CERTIFICATE_ARN} are given together or not at all")
        return self

    @model_validator(mode="after")
    def _default_media_base_url(self) -> "InfraConfig":
        # In AWS the web app, the API and the media share one CloudFront origin, so playback URLs
        # may be root-relative (`/hls/...`). This also keeps the API stack free of a reference
        # to the distribution, which depends on the API (a cross-stack cycle otherwise).
        if not self.local and self.media_base_url is None:
            origin = f"https://{self.domain_name}" if self.domain_name else ""
            self.media_base_url = f"{origin}/{MEDIA_PREFIX}"
        return self

    @classmethod
    def from_context(cls, get: Any) -> "InfraConfig":
        """Build from a `node.try_get_context`-like getter; strings from `-c` are parsed by the
        model (lax mode), and a key that is absent or empty keeps the field's default."""

        def flag(key: str) -> bool:
            return str(get(key) or "false").lower() in ("1", "true", "yes")

        local = flag(CTX_LOCAL)
        given = {
            field: str(value).strip()
            for field, key in (
                ("stage", CTX_STAGE),
                ("lambda_python", CTX_LAMBDA_PYTHON),
                ("media_base_url", CTX_MEDIA_BASE_URL),
                ("ingest_url", CTX_INGEST_URL),
                ("vod_retention_days", CTX_VOD_RETENTION_DAYS),
                ("domain_name", CTX_DOMAIN_NAME),
                ("certificate_arn", CTX_CERTIFICATE_ARN),
                ("ingest_max_tasks", CTX_INGEST_MAX_TASKS),
                ("ingest_broadcasts_per_task", CTX_INGEST_BROADCASTS_PER_TASK),
                ("ingest_domain_name", CTX_INGEST_DOMAIN_NAME),
                ("ingest_certificate_arn", CTX_INGEST_CERTIFICATE_ARN),
                ("alarm_email", CTX_ALARM_EMAIL),
            )
            if (value := get(key)) not in (None, "")
        }
        for host in ("domain_name", "ingest_domain_name"):
            if host in given:
                given[host] = given[host].lower()
        defaults = {
            "stage": "local" if local else "prod",
            "lambda_python": f"{sys.version_info.major}.{sys.version_info.minor}" if local else AWS_LAMBDA_PYTHON,
        }
        return cls.model_validate({"local": local, "nag": flag(CTX_NAG), **defaults, **given})
