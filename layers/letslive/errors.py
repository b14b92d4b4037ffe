"""Domain exceptions. Entry points map them to responses; nothing here knows about HTTP."""


class LetsLiveError(Exception):
    """Base of every error the domain raises on purpose.

    `code` is a stable, machine-readable slug that clients may branch on.
    """

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigurationError(LetsLiveError):
    """The process was started without a setting it needs."""

    code = "configuration"


class InvalidInput(LetsLiveError):
    code = "invalid-input"


class Unauthorized(LetsLiveError):
    code = "unauthorized"


class Forbidden(LetsLiveError):
    code = "forbidden"


class NotFound(LetsLiveError):
    code = "not-found"


class Conflict(LetsLiveError):
    code = "conflict"


class RateLimited(LetsLiveError):
    code = "rate-limited"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class DependencyUnavailable(LetsLiveError):
    """A backing service (DynamoDB, S3, ...) did not answer."""

    code = "dependency-unavailable"


# --- users service ---------------------------------------------------------------------------


class UserNotFound(NotFound):
    code = "user-not-found"


class CannotFollowSelf(InvalidInput):
    code = "cannot-follow-self"


class InvalidCursor(InvalidInput):
    """A pagination cursor that this service did not issue for this list."""

    code = "invalid-cursor"


# --- auth service ----------------------------------------------------------------------------


class InvalidCredentials(Unauthorized):
    """Login refused; the same answer whether the account or the password was wrong."""

    code = "invalid-credentials"


class InvalidRefreshToken(Unauthorized):
    """A refresh token that is unknown, expired, revoked or already used."""

    code = "invalid-refresh-token"


class WeakPassword(InvalidInput):
    code = "weak-password"


# --- streams and vods services ---------------------------------------------------------------


class ChannelNotFound(NotFound):
    """A channel name that cannot exist (not a valid handle)."""

    code = "channel-not-found"


class NotLive(NotFound):
    """The channel has no live broadcast right now."""

    code = "not-live"


class BroadcastNotFound(NotFound):
    code = "broadcast-not-found"


class ChannelBusy(Conflict):
    """Another publisher holds the channel (or won the race to start it)."""

    code = "channel-busy"


class InvalidStreamKey(Unauthorized):
    """The stream key is unknown, or was rotated since it was accepted."""

    code = "invalid-stream-key"


class InvalidDestination(InvalidInput):
    """A restream destination that cannot be saved: a new one without a key, an id not saved,
    the same id twice, or a server the worker may not reach."""

    code = "invalid-destination"


class ClipOutOfRange(InvalidInput):
    """A clip of a range the broadcast does not have (yet), or lost."""

    code = "clip-out-of-range"


class ClipNotFound(NotFound):
    """No such clip: never made, or deleted."""

    code = "clip-not-found"


class DownloadNotFailed(Conflict):
    """A clip's MP4 is ready or being made: there is nothing to make again."""

    code = "download-not-failed"


class MediaNotFound(NotFound):
    """No such object in the media store."""

    code = "media-not-found"


class VodNotFound(NotFound):
    """No such VOD: never recorded, deleted, or past its retention."""

    code = "vod-not-found"


# --- chat ------------------------------------------------------------------------------------


class ChatRefused(LetsLiveError):
    """An action the chat refuses; `notice` is the code of the notice the sender gets."""

    code = "chat-refused"
    notice = "invalid"

    def __init__(self, detail: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class AnonymousChatter(ChatRefused):
    notice = "anonymous"


class Banned(ChatRefused):
    notice = "banned"


class TimedOut(ChatRefused):
    notice = "timed-out"


class ChatRateLimited(ChatRefused):
    notice = "rate-limited"


class SlowMode(ChatRefused):
    notice = "slow-mode"


class EmptyMessage(ChatRefused):
    notice = "empty"


class MessageTooLong(ChatRefused):
    notice = "too-long"


class NotModerator(ChatRefused):
    notice = "forbidden"


class ChatTargetNotFound(ChatRefused):
    notice = "not-found"


class UnknownConnection(ChatRefused):
    """A route event for a connection the room does not know (closed, or not yet recorded)."""

    notice = "unavailable"
