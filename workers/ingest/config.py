"""The ingest worker's settings, read from the environment once, on first use, and validated.

Env var names live in `letslive.constants` (one place for the worker, the CDK app and tests).
"""

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from letslive.constants import (
    ENV_ECS_AGENT_URI,
    ENV_INGEST_CHECK_CACHE_SECONDS,
    ENV_INGEST_COPY_MAX_KBPS,
    ENV_INGEST_DISK_BUDGET_MB,
    ENV_INGEST_DRAIN_TIMEOUT_SECONDS,
    ENV_INGEST_ENCODE_PIXELS_PER_SECOND,
    ENV_INGEST_FINALIZE_TIMEOUT_SECONDS,
    ENV_INGEST_HEALTH_HOST,
    ENV_INGEST_HEALTH_PORT,
    ENV_INGEST_HEARTBEAT_SECONDS,
    ENV_INGEST_LADDER,
    ENV_INGEST_LOG_LEVEL,
    ENV_INGEST_MAX_HEADER_BYTES,
    ENV_INGEST_PREFIX,
    ENV_INGEST_READ_TIMEOUT_SECONDS,
    ENV_INGEST_RECORDING_CHUNK_SEGMENTS,
    ENV_INGEST_RESTREAM_BACKOFF_MAX_SECONDS,
    ENV_INGEST_RESTREAM_BACKOFF_SECONDS,
    ENV_INGEST_RESTREAM_BUFFER_SECONDS,
    ENV_INGEST_RESTREAM_GIVE_UP_ATTEMPTS,
    ENV_INGEST_RESTREAM_REFRESH_SECONDS,
    ENV_INGEST_RESTREAM_VERIFY_TLS,
    ENV_INGEST_REWIND_SECONDS,
    ENV_INGEST_RTMP_ACK_WINDOW_BYTES,
    ENV_INGEST_RTMP_AUTHORIZE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_HANDSHAKE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_HOST,
    ENV_INGEST_RTMP_IDLE_TIMEOUT_SECONDS,
    ENV_INGEST_RTMP_MAX_CHUNK_STREAMS,
    ENV_INGEST_RTMP_MAX_CONNECTIONS_PER_ADDRESS,
    ENV_INGEST_RTMP_MAX_MESSAGE_BYTES,
    ENV_INGEST_RTMP_MAX_PENDING_CONNECTIONS,
    ENV_INGEST_RTMP_MEMORY_BUDGET_BYTES,
    ENV_INGEST_RTMP_PORT,
    ENV_INGEST_RTMP_PRE_PUBLISH_MAX_BYTES,
    ENV_INGEST_RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES,
    ENV_INGEST_RTMP_PUBLISH_TIMEOUT_SECONDS,
    ENV_INGEST_SCALE_IN_PROTECTION_MINUTES,
    ENV_INGEST_SEGMENT_SECONDS,
    ENV_INGEST_THUMBNAIL_SECONDS,
    ENV_INGEST_WINDOW_SEGMENTS,
    ENV_INGEST_WORK_DIR,
    REWIND_SECONDS_DEFAULT,
)
from letslive.errors import ConfigurationError
from letslive.media.planner import DEFAULT_COPY_MAX_KBPS, DEFAULT_ENCODE_PIXELS_PER_SECOND
from letslive.services.recordings import RECORDING_CHUNK_SEGMENTS


class IngestSettings(BaseSettings):
    """Where the health endpoint listens and how the worker shuts down.

    Fields can also be passed by name (tests build settings directly).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_INGEST_PREFIX, extra="ignore", frozen=True, validate_by_name=True, validate_by_alias=True
    )

    # Loopback by default so a developer's worker is not reachable from the network; the
    # container image sets 0.0.0.0 for the load balancer.
    health_host: str = Field(default="127.0.0.1", min_length=1, validation_alias=ENV_INGEST_HEALTH_HOST)
    # 0 picks a free port (tests); the bound port is logged.
    health_port: int = Field(default=8080, ge=0, le=65535, validation_alias=ENV_INGEST_HEALTH_PORT)
    # Fargate sends SIGKILL at the task's stopTimeout, at most 120 s: a longer drain could never finish.
    drain_timeout_seconds: float = Field(default=30.0, ge=0, le=120, validation_alias=ENV_INGEST_DRAIN_TIMEOUT_SECONDS)
    # Load balancers poll every few seconds per AZ; dependency probes run at most once per window.
    check_cache_seconds: float = Field(default=5.0, ge=0, le=300, validation_alias=ENV_INGEST_CHECK_CACHE_SECONDS)
    max_header_bytes: int = Field(default=8 * 1024, ge=1024, le=64 * 1024, validation_alias=ENV_INGEST_MAX_HEADER_BYTES)
    # Also bounds writing the response and the lingering close, so no client holds a handler longer.
    read_timeout_seconds: float = Field(default=5.0, gt=0, le=60, validation_alias=ENV_INGEST_READ_TIMEOUT_SECONDS)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=ENV_INGEST_LOG_LEVEL
    )

    # The RTMP server's limits (`RtmpLimits`): a client that stalls, floods or sends garbage is
    # cut off without affecting the other connections.
    rtmp_handshake_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, validation_alias=ENV_INGEST_RTMP_HANDSHAKE_TIMEOUT_SECONDS
    )
    rtmp_idle_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, validation_alias=ENV_INGEST_RTMP_IDLE_TIMEOUT_SECONDS
    )
    # RTMP's message length field has 24 bits; a 1080p keyframe is well under 1 MiB.
    rtmp_max_message_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, le=0xFFFFFF, validation_alias=ENV_INGEST_RTMP_MAX_MESSAGE_BYTES
    )
    rtmp_max_connections_per_address: int = Field(
        default=4, ge=1, le=1024, validation_alias=ENV_INGEST_RTMP_MAX_CONNECTIONS_PER_ADDRESS
    )
    # 65599 is the largest chunk stream id; OBS and FFmpeg use five or fewer.
    rtmp_max_chunk_streams: int = Field(default=32, ge=8, le=65599, validation_alias=ENV_INGEST_RTMP_MAX_CHUNK_STREAMS)
    rtmp_ack_window_bytes: int = Field(
        default=2_500_000, ge=4096, le=0x7FFFFFFF, validation_alias=ENV_INGEST_RTMP_ACK_WINDOW_BYTES
    )
    rtmp_authorize_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, validation_alias=ENV_INGEST_RTMP_AUTHORIZE_TIMEOUT_SECONDS
    )
    # Until `publish` is accepted a client is anyone: small messages (OBS's largest is under
    # 512 bytes), a small total, a deadline, and a cap on such connections across all addresses.
    rtmp_pre_publish_max_message_bytes: int = Field(
        default=4 * 1024, ge=128, le=64 * 1024, validation_alias=ENV_INGEST_RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES
    )
    rtmp_pre_publish_max_bytes: int = Field(
        default=64 * 1024, ge=4 * 1024, le=1024 * 1024, validation_alias=ENV_INGEST_RTMP_PRE_PUBLISH_MAX_BYTES
    )
    rtmp_publish_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, validation_alias=ENV_INGEST_RTMP_PUBLISH_TIMEOUT_SECONDS
    )
    rtmp_max_pending_connections: int = Field(
        default=256, ge=1, le=65536, validation_alias=ENV_INGEST_RTMP_MAX_PENDING_CONNECTIONS
    )
    # Input buffered and partly received messages of every connection together (a publisher
    # normally holds well under 1 MiB; at its limits three times `rtmp_max_message_bytes`).
    rtmp_memory_budget_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=32 * 1024 * 1024,
        le=4 * 1024 * 1024 * 1024,
        validation_alias=ENV_INGEST_RTMP_MEMORY_BUDGET_BYTES,
    )

    # Streamers: `rtmp://<host>:<port>/live/<stream key>`. The image sets 0.0.0.0.
    rtmp_host: str = Field(default="127.0.0.1", min_length=1, validation_alias=ENV_INGEST_RTMP_HOST)
    rtmp_port: int = Field(default=1935, ge=0, le=65535, validation_alias=ENV_INGEST_RTMP_PORT)
    # FFmpeg writes each broadcast's HLS here; segments stay until they are in S3.
    work_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "letslive-ingest", validation_alias=ENV_INGEST_WORK_DIR
    )
    # Rung heights, capped by the source (`letslive.media.ladder.Ladder.parse`).
    ladder: str = Field(default="1080,720,360", pattern=r"^\d{3,4}(,\d{3,4})*$", validation_alias=ENV_INGEST_LADDER)
    # The target segment length of every rung; the source is copied as the top rung only when
    # its keyframes land on this clock (set OBS's keyframe interval to it), else re-encoded.
    segment_seconds: float = Field(default=1.0, ge=0.5, le=10, validation_alias=ENV_INGEST_SEGMENT_SECONDS)
    window_segments: int = Field(default=6, ge=3, le=30, validation_alias=ENV_INGEST_WINDOW_SEGMENTS)
    # How far back viewers can rewind a live broadcast: at least this far (up to a chunk of the
    # recording more); the VOD has it all anyway.
    rewind_seconds: float = Field(
        default=REWIND_SECONDS_DEFAULT, ge=0, le=48 * 3600, validation_alias=ENV_INGEST_REWIND_SECONDS
    )
    # Segments per full chunk of the recording (`letslive.services.recordings`).
    recording_chunk_segments: int = Field(
        default=RECORDING_CHUNK_SEGMENTS, ge=10, le=3600, validation_alias=ENV_INGEST_RECORDING_CHUNK_SEGMENTS
    )
    # Restream (`workers/ingest/restream.py`): media a destination may lag behind before it is
    # dropped and reconnected; the backoff between its attempts (doubling up to the maximum); the
    # attempts in a row that never go live before it has failed.
    restream_buffer_seconds: float = Field(
        default=4.0, ge=1, le=60, validation_alias=ENV_INGEST_RESTREAM_BUFFER_SECONDS
    )
    restream_backoff_seconds: float = Field(
        default=2.0, gt=0, le=300, validation_alias=ENV_INGEST_RESTREAM_BACKOFF_SECONDS
    )
    restream_backoff_max_seconds: float = Field(
        default=60.0, gt=0, le=3600, validation_alias=ENV_INGEST_RESTREAM_BACKOFF_MAX_SECONDS
    )
    # RTMPS destinations' certificates are checked (off only for self-signed test servers).
    restream_verify_tls: bool = Field(default=True, validation_alias=ENV_INGEST_RESTREAM_VERIFY_TLS)
    restream_give_up_attempts: int = Field(
        default=6, ge=1, le=100, validation_alias=ENV_INGEST_RESTREAM_GIVE_UP_ATTEMPTS
    )
    # How often a live broadcast reads its destinations again: a streamer's change (one added,
    # removed, disabled or edited) takes effect within this (one table read; keys are opened once).
    restream_refresh_seconds: float = Field(
        default=10.0, ge=0.5, le=600, validation_alias=ENV_INGEST_RESTREAM_REFRESH_SECONDS
    )
    # How often the live session's health reaches the streams table (and a rotated key is noticed).
    heartbeat_seconds: float = Field(default=5.0, gt=0, le=60, validation_alias=ENV_INGEST_HEARTBEAT_SECONDS)
    thumbnail_seconds: float = Field(default=15.0, gt=0, le=300, validation_alias=ENV_INGEST_THUMBNAIL_SECONDS)
    # Segments waiting in `work_dir` for S3, every broadcast together: past it the oldest are
    # dropped (marked as gaps). A 6 Mbit/s ladder spools ~1 GiB per 20 min of outage; Fargate's
    # default ephemeral storage is 20 GiB (the CDK app sizes both).
    disk_budget_mb: int = Field(default=16 * 1024, ge=64, le=200 * 1024, validation_alias=ENV_INGEST_DISK_BUDGET_MB)
    # An ended broadcast keeps retrying storage this long before its VOD is written without
    # what could not be stored.
    finalize_timeout_seconds: float = Field(
        default=600.0, gt=0, le=86_400, validation_alias=ENV_INGEST_FINALIZE_TIMEOUT_SECONDS
    )
    # A source declaring more than this is re-encoded rather than copied to viewers.
    copy_max_kbps: int = Field(
        default=DEFAULT_COPY_MAX_KBPS, ge=1000, le=100_000, validation_alias=ENV_INGEST_COPY_MAX_KBPS
    )
    # The re-encoded top rung's pixel rate (width x height x fps) the task sustains in real time
    # beside the lower rungs (bench/ladder.py); above it the top rung is capped.
    encode_pixels_per_second: int = Field(
        default=DEFAULT_ENCODE_PIXELS_PER_SECOND,
        ge=320 * 180 * 15,
        le=3840 * 2160 * 60,
        validation_alias=ENV_INGEST_ENCODE_PIXELS_PER_SECOND,
    )

    # The ECS agent's endpoint, set by ECS in every task; unset means not on ECS, and then there
    # is no scale-in protection to ask for.
    ecs_agent_uri: str | None = Field(default=None, pattern=r"^https?://\S+$", validation_alias=ENV_ECS_AGENT_URI)
    # Each protection lasts this long and is renewed halfway while broadcasts go on, so a worker
    # that hangs stops protecting its task within this bound (ECS allows 1 to 2880).
    scale_in_protection_minutes: int = Field(
        default=30, ge=2, le=2880, validation_alias=ENV_INGEST_SCALE_IN_PROTECTION_MINUTES
    )


@lru_cache(maxsize=1)
def get_ingest_settings() -> IngestSettings:
    """The worker's settings, parsed on the first call (never at import time)."""
    try:
        return IngestSettings()
    except ValidationError as exc:
        raise ConfigurationError(f"invalid ingest configuration: {exc}") from exc


def reset_ingest_settings() -> None:
    """Forget the parsed settings so the next call re-reads the environment (tests)."""
    get_ingest_settings.cache_clear()
