"""Names shared by the runtime, the CDK app and the tests: services, tables, env vars, routes.

One module so that a table or variable renamed here is renamed everywhere.
"""

from enum import StrEnum
from typing import Final


class Service(StrEnum):
    """The HTTP services, each one Lambda behind the HTTP API under `/<service>`."""

    AUTH = "auth"
    USERS = "users"
    STREAMS = "streams"
    VODS = "vods"
    CHAT = "chat"


class Table(StrEnum):
    """DynamoDB tables, one per domain: services share data through events, not tables."""

    AUTH = "auth"
    USERS = "users"
    STREAMS = "streams"
    VODS = "vods"
    # Chat: who is connected to which channel (partition = channel, sort = connection id; the
    # GSI `gsi1` is keyed by connection id), and the rooms: messages, settings, moderators,
    # bans and timeouts, rate-limit and idempotency state.
    CONNECTIONS = "connections"
    CHAT = "chat"


# Which tables each service may use (and reports on in its health check). Auth and users are
# the two services of the accounts domain: auth creates accounts in the users table.
SERVICE_TABLES: Final[dict[Service, tuple[Table, ...]]] = {
    Service.AUTH: (Table.AUTH, Table.USERS),
    Service.USERS: (Table.USERS,),
    Service.STREAMS: (Table.STREAMS,),
    Service.VODS: (Table.VODS,),
    Service.CHAT: (Table.CONNECTIONS, Table.CHAT),
}
# Tables a service may read but never write. Chat reads the accounts' users table at connect
# time, to refuse unknown channels and show a chatter's current display name.
SERVICE_READ_TABLES: Final[dict[Service, tuple[Table, ...]]] = {
    Service.CHAT: (Table.USERS,),
    Service.VODS: (Table.CHAT, Table.STREAMS),  # a VOD's chat replay; whose a clipped broadcast is
}
# The path prefixes of each service's routes besides `/<service>`: the vods service owns
# recorded media, VODs and clips.
SERVICE_EXTRA_PREFIXES: Final[dict[Service, tuple[str, ...]]] = {Service.VODS: ("clips",)}

# Every table has the same generic key schema so that one item layout serves many entities.
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
TABLE_TTL_ATTRIBUTE: Final = "expires_at"
# One sparse secondary index per table, for the listings the key schema cannot serve
# (live channels, a channel's VODs): only items that set `gsi1pk` are in it.
TABLE_GSI: Final = "gsi1"
TABLE_GSI_PARTITION_KEY: Final = "gsi1pk"
TABLE_GSI_SORT_KEY: Final = "gsi1sk"

ENV_PREFIX: Final = "LETSLIVE_"
ENV_SERVICE: Final = f"{ENV_PREFIX}SERVICE"
ENV_MEDIA_BUCKET: Final = f"{ENV_PREFIX}MEDIA_BUCKET"
ENV_AWS_ENDPOINT_URL: Final = f"{ENV_PREFIX}AWS_ENDPOINT_URL"
ENV_REGION: Final = f"{ENV_PREFIX}REGION"
ENV_STAGE: Final = f"{ENV_PREFIX}STAGE"
ENV_JWKS: Final = f"{ENV_PREFIX}JWKS"
ENV_SIGNING_KEY_SECRET: Final = f"{ENV_PREFIX}SIGNING_KEY_SECRET"
# Behind CloudFront (AWS only): the secret whose value the distribution sends to the HTTP API in
# `ORIGIN_VERIFY_HEADER`; only a request carrying it may name its viewer in `VIEWER_ADDRESS_HEADER`
# (set by the `/api/*` viewer-request function, `infra/constructs/cloudfront/api_request.js`).
ENV_ORIGIN_VERIFY_SECRET: Final = f"{ENV_PREFIX}ORIGIN_VERIFY_SECRET"
ORIGIN_VERIFY_HEADER: Final = "x-letslive-origin-verify"
VIEWER_ADDRESS_HEADER: Final = "x-letslive-viewer-address"
ENV_EVENT_BUS: Final = f"{ENV_PREFIX}EVENT_BUS"
ENV_MEDIA_BASE_URL: Final = f"{ENV_PREFIX}MEDIA_BASE_URL"
# The SSM parameter holding the CloudFront distribution id (AWS only; unset locally: no CDN).
ENV_CDN_DISTRIBUTION_PARAMETER: Final = f"{ENV_PREFIX}CDN_DISTRIBUTION_PARAMETER"
ENV_INGEST_URL: Final = f"{ENV_PREFIX}INGEST_URL"
ENV_VOD_RETENTION_DAYS: Final = f"{ENV_PREFIX}VOD_RETENTION_DAYS"
# Restream: the KMS key sealing destination keys (the streams API encrypts, the worker decrypts),
# and whether destinations may be private addresses (locally only: the tests' RTMP servers).
ENV_RESTREAM_KEY: Final = f"{ENV_PREFIX}RESTREAM_KEY"
ENV_RESTREAM_ALLOW_PRIVATE_HOSTS: Final = f"{ENV_PREFIX}RESTREAM_ALLOW_PRIVATE_HOSTS"
# The encryption context every sealed restream key carries (`letslive.data.kms`), which the key's
# grants require.
RESTREAM_KEY_PURPOSE: Final = "restream-key"
# Chat (the API Gateway WebSocket API): where handlers post to connections (the stage's
# `@connections` callback URL), the SQS queue of fan-out batches for big rooms, and the room size
# above which a message fans out through that queue.
ENV_CHAT_CALLBACK_URL: Final = f"{ENV_PREFIX}CHAT_CALLBACK_URL"
ENV_CHAT_FANOUT_QUEUE_URL: Final = f"{ENV_PREFIX}CHAT_FANOUT_QUEUE_URL"
ENV_CHAT_FANOUT_THRESHOLD: Final = f"{ENV_PREFIX}CHAT_FANOUT_THRESHOLD"
# API Gateway closes a WebSocket connection after 2 h; its connection item expires with it.
CHAT_CONNECTION_TTL_SECONDS: Final = 2 * 60 * 60
# The WebSocket API picks a route by the `action` field of each JSON frame.
CHAT_ROUTE_SELECTION: Final = "$request.body.action"


class ChatAction(StrEnum):
    """Client → server routes of the chat WebSocket API (besides `$connect`, `$disconnect` and
    `$default`, which answers an unknown action)."""

    SEND = "send"
    DELETE = "delete"
    TIMEOUT = "timeout"
    BAN = "ban"
    UNBAN = "unban"
    SLOW = "slow"
    MOD = "mod"
    UNMOD = "unmod"
    PING = "ping"
    # API Gateway cannot post to a connection while `$connect` runs, so a client asks for the
    # room's history (and its own role) right after it opens.
    HISTORY = "history"


# Media objects live under this key prefix, so CloudFront's `/hls/*` maps onto the bucket as is.
MEDIA_PREFIX: Final = "hls"

# Domain events on the EventBridge bus.
EVENT_SOURCE: Final = "letslive"

# The refresh cookie: HttpOnly, Secure, SameSite=Strict, scoped to the auth routes.
REFRESH_COOKIE: Final = "letslive_refresh"
# Browsers reach the auth routes through the one web origin, under `/api` (CloudFront's `/api/*`
# behaviour, the local edge), so that is the path the cookie must be scoped to.
REFRESH_COOKIE_PATH: Final = "/api/auth"

# The ingest worker's own settings (`workers/ingest/config.py` reads exactly these names).
ENV_INGEST_PREFIX: Final = f"{ENV_PREFIX}INGEST_"
ENV_INGEST_HEALTH_HOST: Final = f"{ENV_INGEST_PREFIX}HEALTH_HOST"
ENV_INGEST_HEALTH_PORT: Final = f"{ENV_INGEST_PREFIX}HEALTH_PORT"
ENV_INGEST_DRAIN_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}DRAIN_TIMEOUT_SECONDS"
ENV_INGEST_CHECK_CACHE_SECONDS: Final = f"{ENV_INGEST_PREFIX}CHECK_CACHE_SECONDS"
ENV_INGEST_MAX_HEADER_BYTES: Final = f"{ENV_INGEST_PREFIX}MAX_HEADER_BYTES"
ENV_INGEST_READ_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}READ_TIMEOUT_SECONDS"
ENV_INGEST_LOG_LEVEL: Final = f"{ENV_INGEST_PREFIX}LOG_LEVEL"
# The RTMP server's limits (`workers/ingest/rtmp`, `RtmpLimits.from_settings`).
ENV_INGEST_RTMP_HANDSHAKE_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}RTMP_HANDSHAKE_TIMEOUT_SECONDS"
ENV_INGEST_RTMP_IDLE_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}RTMP_IDLE_TIMEOUT_SECONDS"
ENV_INGEST_RTMP_MAX_MESSAGE_BYTES: Final = f"{ENV_INGEST_PREFIX}RTMP_MAX_MESSAGE_BYTES"
ENV_INGEST_RTMP_MAX_CONNECTIONS_PER_ADDRESS: Final = f"{ENV_INGEST_PREFIX}RTMP_MAX_CONNECTIONS_PER_ADDRESS"
ENV_INGEST_RTMP_MAX_CHUNK_STREAMS: Final = f"{ENV_INGEST_PREFIX}RTMP_MAX_CHUNK_STREAMS"
ENV_INGEST_RTMP_ACK_WINDOW_BYTES: Final = f"{ENV_INGEST_PREFIX}RTMP_ACK_WINDOW_BYTES"
ENV_INGEST_RTMP_AUTHORIZE_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}RTMP_AUTHORIZE_TIMEOUT_SECONDS"
# Before `publish` is accepted (`RtmpLimits.pre_publish_*` and the pending-connection cap), and
# the server-wide memory budget for buffered client input.
ENV_INGEST_RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES: Final = f"{ENV_INGEST_PREFIX}RTMP_PRE_PUBLISH_MAX_MESSAGE_BYTES"
ENV_INGEST_RTMP_PRE_PUBLISH_MAX_BYTES: Final = f"{ENV_INGEST_PREFIX}RTMP_PRE_PUBLISH_MAX_BYTES"
ENV_INGEST_RTMP_PUBLISH_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}RTMP_PUBLISH_TIMEOUT_SECONDS"
ENV_INGEST_RTMP_MAX_PENDING_CONNECTIONS: Final = f"{ENV_INGEST_PREFIX}RTMP_MAX_PENDING_CONNECTIONS"
ENV_INGEST_RTMP_MEMORY_BUDGET_BYTES: Final = f"{ENV_INGEST_PREFIX}RTMP_MEMORY_BUDGET_BYTES"
# Where streamers connect, and how a broadcast is transcoded and published.
ENV_INGEST_RTMP_HOST: Final = f"{ENV_INGEST_PREFIX}RTMP_HOST"
ENV_INGEST_RTMP_PORT: Final = f"{ENV_INGEST_PREFIX}RTMP_PORT"
ENV_INGEST_WORK_DIR: Final = f"{ENV_INGEST_PREFIX}WORK_DIR"
# Which task this is (ECS gives each its own; locally `make dev` names each worker process).
ENV_INGEST_WORKER_ID: Final = f"{ENV_INGEST_PREFIX}WORKER_ID"
ENV_INGEST_LADDER: Final = f"{ENV_INGEST_PREFIX}LADDER"
ENV_INGEST_SEGMENT_SECONDS: Final = f"{ENV_INGEST_PREFIX}SEGMENT_SECONDS"
ENV_INGEST_WINDOW_SEGMENTS: Final = f"{ENV_INGEST_PREFIX}WINDOW_SEGMENTS"
ENV_INGEST_REWIND_SECONDS: Final = f"{ENV_INGEST_PREFIX}REWIND_SECONDS"
ENV_INGEST_RECORDING_CHUNK_SEGMENTS: Final = f"{ENV_INGEST_PREFIX}RECORDING_CHUNK_SEGMENTS"
ENV_INGEST_RESTREAM_BUFFER_SECONDS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_BUFFER_SECONDS"
ENV_INGEST_RESTREAM_BACKOFF_SECONDS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_BACKOFF_SECONDS"
ENV_INGEST_RESTREAM_BACKOFF_MAX_SECONDS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_BACKOFF_MAX_SECONDS"
ENV_INGEST_RESTREAM_GIVE_UP_ATTEMPTS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_GIVE_UP_ATTEMPTS"
ENV_INGEST_RESTREAM_VERIFY_TLS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_VERIFY_TLS"
ENV_INGEST_RESTREAM_REFRESH_SECONDS: Final = f"{ENV_INGEST_PREFIX}RESTREAM_REFRESH_SECONDS"
# How far back a viewer can rewind a live broadcast (the worker's default; 0 turns rewind off).
REWIND_SECONDS_DEFAULT: Final = 4 * 3600
ENV_INGEST_HEARTBEAT_SECONDS: Final = f"{ENV_INGEST_PREFIX}HEARTBEAT_SECONDS"
ENV_INGEST_THUMBNAIL_SECONDS: Final = f"{ENV_INGEST_PREFIX}THUMBNAIL_SECONDS"
# What the worker may keep on disk waiting for S3, and how long an ended broadcast waits for it.
ENV_INGEST_DISK_BUDGET_MB: Final = f"{ENV_INGEST_PREFIX}DISK_BUDGET_MB"
ENV_INGEST_FINALIZE_TIMEOUT_SECONDS: Final = f"{ENV_INGEST_PREFIX}FINALIZE_TIMEOUT_SECONDS"
# When the top rung may be the source copied, and how much re-encoding a worker affords
# (`letslive.media.planner.PlanLimits`).
ENV_INGEST_COPY_MAX_KBPS: Final = f"{ENV_INGEST_PREFIX}COPY_MAX_KBPS"
ENV_INGEST_ENCODE_PIXELS_PER_SECOND: Final = f"{ENV_INGEST_PREFIX}ENCODE_PIXELS_PER_SECOND"
# ECS task scale-in protection while broadcasts run: how long one protection lasts (renewed
# while broadcasts go on). `ECS_AGENT_URI` is set by ECS itself; without it there is no agent.
ENV_INGEST_SCALE_IN_PROTECTION_MINUTES: Final = f"{ENV_INGEST_PREFIX}SCALE_IN_PROTECTION_MINUTES"
ENV_ECS_AGENT_URI: Final = "ECS_AGENT_URI"

POWERTOOLS_NAMESPACE: Final = "LetsLive"


class IngestMetric(StrEnum):
    """The ingest worker's CloudWatch metrics, written as EMF on stdout (namespace
    `POWERTOOLS_NAMESPACE`, dimensions `INGEST_METRIC_DIMENSIONS`); the dashboard, the alarms
    and the service's autoscaling read them by these names."""

    ACTIVE_BROADCASTS = "ActiveBroadcasts"  # Count, per task, every heartbeat
    INPUT_BITRATE = "InputBitrate"  # Kilobits/Second, per broadcast
    TRANSCODE_SPEED = "TranscodeSpeed"  # None (1.0 = keeping up with the input, `SpeedMeter`), per broadcast
    SEGMENT_UPLOAD_LATENCY = "SegmentUploadLatency"  # Milliseconds, closed segment to object written
    SEGMENTS_UPLOADED = "SegmentsUploaded"  # Count
    UPLOAD_FAILURES = "UploadFailures"  # Count, uploads that failed after their retries
    SEGMENTS_DROPPED = "SegmentsDropped"  # Count, media lost (disk budget, storage down past the end): VOD gaps
    LOOP_ERRORS = "LoopErrors"  # Count, unexpected exceptions a broadcast's loop logged and survived
    EVENT_LOOP_LAG = "EventLoopLag"  # Milliseconds, per task, the worst since the last heartbeat


# Every ingest metric carries exactly these dimensions: `service` is "ingest", `stage` the
# deployment's stage (two stages in one account must not share an autoscaling signal).
INGEST_METRIC_SERVICE: Final = "ingest"
INGEST_METRIC_DIMENSIONS: Final = ("service", "stage")

# The Lambdas' metrics carry `service` (Powertools' service name, a `Service` value) and this
# dimension, set to the deployment's stage like the ingest worker's.
METRIC_STAGE_DIMENSION: Final = "stage"


class ChatMetric(StrEnum):
    """The chat Lambdas' business metrics (namespace `POWERTOOLS_NAMESPACE`, service "chat");
    the dashboard reads them by these names."""

    MESSAGES_SENT = "ChatMessagesSent"  # Count, new messages stored and broadcast (not resends)
    CONNECTIONS = "ChatConnections"  # Count, connections that joined a room
    REFUSED = "ChatRefused"  # Count, client actions answered with a refusal notice
    FANOUT_DELIVERED = "ChatFanoutDelivered"  # Count, posts made by the fan-out workers
    FANOUT_GONE = "ChatFanoutGone"  # Count, connections the fan-out workers found gone


def table_env_var(table: Table) -> str:
    """The env var holding a table's physical name, e.g. `LETSLIVE_USERS_TABLE`."""
    return f"{ENV_PREFIX}{table.value.upper()}_TABLE"


def health_route(service: Service) -> str:
    return f"/{service.value}/health"


# Handles nobody may sign up with: route segments, roles, and names that read as official.
# Compared with the lower-cased handle. The one list; the users service may use it too.
RESERVED_USERNAMES: Final = frozenset(
    {
        "about", "admin", "administrator", "api", "auth", "dashboard", "health", "help", "letslive", "live",
        "login", "logout", "me", "moderator", "null", "root", "settings", "signup", "staff",
        "streams", "support", "system", "undefined", "users", "vods", "www",
    }
)  # fmt: skip
