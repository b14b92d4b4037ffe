"""Runtime configuration, read from the environment once, on first use, and validated."""

from functools import lru_cache

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from letslive.constants import ENV_PREFIX, Table, table_env_var
from letslive.errors import ConfigurationError


class Settings(BaseSettings):
    """Everything the domain package needs to know about where it runs.

    `aws_endpoint_url` is the AWS seam: unset for real AWS and for moto (which patches
    botocore in-process), the emulator's URL for LocalStack or ministack.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    stage: str = "local"
    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices(f"{ENV_PREFIX}REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(f"{ENV_PREFIX}AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
    )
    # Physical table names; each process is given only the tables it may use.
    auth_table: str | None = Field(default=None, validation_alias=table_env_var(Table.AUTH))
    users_table: str | None = Field(default=None, validation_alias=table_env_var(Table.USERS))
    streams_table: str | None = Field(default=None, validation_alias=table_env_var(Table.STREAMS))
    vods_table: str | None = Field(default=None, validation_alias=table_env_var(Table.VODS))
    connections_table: str | None = Field(default=None, validation_alias=table_env_var(Table.CONNECTIONS))
    chat_table: str | None = Field(default=None, validation_alias=table_env_var(Table.CHAT))
    media_bucket: str | None = None
    # Access tokens: every service verifies with the public keys in `jwks` (a JWKS document);
    # only the auth service reads the private key, from the Secrets Manager secret.
    jwks: str | None = None
    signing_key_secret: str | None = None
    # The CloudFront origin-verify secret (`ENV_ORIGIN_VERIFY_SECRET`); unset, no request may name
    # its viewer's address (locally, or with no distribution in front).
    origin_verify_secret: str | None = None
    jwt_issuer: str = "letslive"
    jwt_audience: str = "letslive-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=90)
    # --- sign-in throttling (`letslive.services.auth.ThrottlePolicy`) ---
    # Consecutive failed logins of one account from one address (or one known device) that
    # lock nothing; each further one locks that pair out for twice as long as the last, from
    # the base up to the cap. The count is forgotten this long after its last failure.
    login_free_failures: int = Field(default=5, ge=1, le=100)
    login_backoff_base_seconds: int = Field(default=60, ge=1, le=3600)
    login_backoff_max_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    login_backoff_reset_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    # Failed logins per fixed window from one address across accounts (credential stuffing: one
    # address shared by many users, as behind a carrier's NAT, must not reach it by typos), and
    # against one account from every address together (many addresses): high, so a handful of
    # addresses cannot reach it. A known device (a live refresh cookie) is held to neither.
    login_window_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    login_address_max_failures: int = Field(default=100, ge=1, le=100_000)
    login_account_max_failures: int = Field(default=300, ge=1, le=1_000_000)
    # Sign-ups (each costs an argon2id hash) from one address per fixed window.
    signup_window_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    signup_max_per_address: int = Field(default=10, ge=1, le=1_000_000)
    event_bus: str | None = None
    # Seconds a health probe may take before the dependency counts as down.
    probe_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # Connect and read timeout of one media upload (one attempt: the uploader retries with
    # backoff). A 1 s segment is under 1 MB; an endpoint silent this long is stalled.
    storage_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # --- streams and vods ---
    # Public root of the media (HLS) objects, e.g. `https://dxxxx.cloudfront.net/hls`; playback
    # and thumbnail URLs are this + "/" + the path under the media prefix. Unset: paths only.
    media_base_url: str | None = None
    # What a streamer puts into OBS as the server (`rtmp://<host>/live`), shown with a new key.
    ingest_url: str = "rtmp://127.0.0.1:1935/live"
    # A publisher that drops and comes back within this many seconds resumes its broadcast.
    reconnect_grace_seconds: float = Field(default=10, ge=0, le=300)
    # A broadcast's worker holds its channel this long after its last heartbeat: a second
    # publisher is refused meanwhile; after it, a publish with the same key resumes the broadcast
    # (its worker died: OBS reconnects through the load balancer to another one).
    lease_seconds: float = Field(default=12, ge=2, le=600)
    # A live broadcast whose worker has sent no heartbeat for this long counts as abandoned
    # (the worker died without marking it disconnected): it leaves the directory, the sweeper
    # ends it and writes its VOD, and a new publish may take the channel over. Workers
    # heartbeat every 5 s (`LETSLIVE_INGEST_HEARTBEAT_SECONDS`).
    live_stale_seconds: float = Field(default=30, ge=5, le=3600)
    # VODs expire (TTL) this many days after they are recorded.
    vod_retention_days: int = Field(default=30, ge=1, le=3650)
    # The SSM parameter that holds the CloudFront distribution id (the CDN stack writes it; the API
    # stack cannot reference the distribution, which depends on it). Unset (locally, where the
    # edge caches no media): a deleted VOD's media is removed but no invalidation is made.
    cdn_distribution_parameter: str | None = None
    # Clips one user may make per window (`letslive.services.clips`).
    clip_rate_limit: int = Field(default=10, ge=1, le=10_000)
    clip_rate_window_seconds: int = Field(default=600, ge=60, le=24 * 3600)
    # --- restream ---
    # The KMS key that seals restream keys (the streams API encrypts, the ingest worker decrypts).
    restream_key: str | None = None
    # Whether destinations may be loopback or private addresses: never in AWS (a streamer could
    # point the worker at the VPC's or the metadata service's addresses); locally the tests'
    # RTMP servers are on 127.0.0.1.
    restream_allow_private_hosts: bool = False

    # --- chat ---
    # The WebSocket stage's management endpoint, `https://<api>.execute-api.<region>.<suffix>/<stage>`.
    chat_callback_url: str | None = None
    chat_fanout_queue_url: str | None = None
    # Rooms with more connections than this fan out through the SQS queue in batches.
    chat_fanout_threshold: int = Field(default=1000, ge=1, le=1_000_000)
    # Open connections one client address (IPv4, or IPv6 /64) may hold in one room; past it
    # `$connect` is refused (429), so one machine cannot inflate the viewer count. Enough for a
    # household or a small office behind one NAT.
    chat_connections_per_address: int = Field(default=10, ge=1, le=10_000)

    def table_name(self, table: Table) -> str:
        name: str | None = getattr(self, f"{table.value}_table")
        if not name:
            raise ConfigurationError(f"{table_env_var(table)} is not set")
        return name

    def required(self, name: str) -> str:
        """A string setting that this process cannot work without."""
        value: str | None = getattr(self, name)
        if not value:
            raise ConfigurationError(f"{ENV_PREFIX}{name.upper()} is not set")
        return value

    def media_bucket_name(self) -> str:
        return self.required("media_bucket")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, parsed on the first call (never at import time)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc


def reset_settings() -> None:
    """Forget the parsed settings so the next call re-reads the environment (tests)."""
    get_settings.cache_clear()
