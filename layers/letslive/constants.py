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
}

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
ENV_EVENT_BUS: Final = f"{ENV_PREFIX}EVENT_BUS"
ENV_MEDIA_BASE_URL: Final = f"{ENV_PREFIX}MEDIA_BASE_URL"
ENV_INGEST_URL: Final = f"{ENV_PREFIX}INGEST_URL"
ENV_VOD_RETENTION_DAYS: Final = f"{ENV_PREFIX}VOD_RETENTION_DAYS"
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
# Where streamers connect, and how a broadcast is transcoded and published.
ENV_INGEST_RTMP_HOST: Final = f"{ENV_INGEST_PREFIX}RTMP_HOST"
ENV_INGEST_RTMP_PORT: Final = f"{ENV_INGEST_PREFIX}RTMP_PORT"
ENV_INGEST_WORK_DIR: Final = f"{ENV_INGEST_PREFIX}WORK_DIR"
ENV_INGEST_LADDER: Final = f"{ENV_INGEST_PREFIX}LADDER"
ENV_INGEST_SEGMENT_SECONDS: Final = f"{ENV_INGEST_PREFIX}SEGMENT_SECONDS"
ENV_INGEST_WINDOW_SEGMENTS: Final = f"{ENV_INGEST_PREFIX}WINDOW_SEGMENTS"
ENV_INGEST_HEARTBEAT_SECONDS: Final = f"{ENV_INGEST_PREFIX}HEARTBEAT_SECONDS"
ENV_INGEST_THUMBNAIL_SECONDS: Final = f"{ENV_INGEST_PREFIX}THUMBNAIL_SECONDS"

POWERTOOLS_NAMESPACE: Final = "LetsLive"


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
