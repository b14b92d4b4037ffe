"""What the RTMP server asks of the rest of the worker: who may publish, and where media goes.

The server calls `PublishAuthorizer.authorize` on every `publish` command and streams the
accepted publish into the `PublishSession` it returns. `on_end` is called exactly once per
accepted publish, however it ends; the other callbacks only before it. A session that finds it
cannot serve what it is given (HEVC where H.264 is needed, say) raises `PublishRejected` from a
callback: the publisher is told why, in an `onStatus` error, before the connection closes.
"""

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Protocol

from workers.ingest.rtmp.amf0 import AmfValue


class EndReason(StrEnum):
    """Why a publish ended, passed to `PublishSession.on_end`."""

    UNPUBLISHED = "unpublished"  # FCUnpublish, deleteStream or closeStream from the client
    CLOSED = "closed"  # the client closed (or reset) the connection
    TIMEOUT = "timeout"  # no data for the idle timeout
    ERROR = "error"  # malformed input, or a session callback failed
    SERVER_CLOSED = "server-closed"  # `RtmpServer.close()`
    REJECTED = "rejected"  # a session callback raised `PublishRejected`


PUBLISH_REJECTED = "NetStream.Publish.Rejected"


class PublishRejected(Exception):
    """Raised by a `PublishSession` callback to end its publish for a reason the publisher must see.

    The server sends the client an `onStatus` of level "error" with `code` and `description` on
    the publish stream (FFmpeg prints the description as a "Server error"), ends the publish with
    `on_end("rejected")` and closes the connection once the client has had time to read it.
    """

    def __init__(self, description: str, code: str = PUBLISH_REJECTED) -> None:
        super().__init__(description)
        self.description = description
        self.code = code


class PublishSession(Protocol):
    """Receives one accepted publish. Timestamps are absolute milliseconds (RTMP's 32 bits).

    Callbacks are awaited in order, one at a time: a slow session slows the reading of its
    connection (TCP back-pressure), never the other connections. `PublishRejected` from a
    callback ends the publish (`on_end("rejected")`) after telling the client why; any other
    exception ends it (`on_end("error")`) and closes the connection.
    """

    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        """`onMetaData` (from `@setDataFrame`), possibly more than once."""

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        """An audio message; `payload` is an FLV AUDIODATA body."""

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        """A video message; `payload` is an FLV VIDEODATA body."""

    async def on_end(self, reason: str) -> None:
        """The publish is over; called exactly once, last."""


class PublishAuthorizer(Protocol):
    async def authorize(self, app: str, stream_key: str, client: str) -> PublishSession | None:
        """A session for this publish, or None to refuse it (unknown key, key already live).

        `app` is the connect command's application ("live" for `rtmp://host/live`), `stream_key`
        the publish command's stream name, `client` the peer's "host:port". It may be cancelled
        (server closing); a session it returns is always ended with `on_end`.
        """


SessionFactory = Callable[[str, str, str], PublishSession]


class _ReleasingSession:
    """Passes everything to `inner` and frees the key in the authorizer after `on_end`."""

    def __init__(self, inner: PublishSession, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        await self._inner.on_metadata(metadata)

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        await self._inner.on_audio(timestamp_ms, payload)

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        await self._inner.on_video(timestamp_ms, payload)

    async def on_end(self, reason: str) -> None:
        try:
            await self._inner.on_end(reason)
        finally:
            self._release()


class InMemoryAuthorizer:
    """Accepts the stream keys it was given (any key with `keys=None`), one publisher per key.

    For tests and local runs; the worker's real authorizer checks hashed keys in DynamoDB.
    `factory(app, stream_key, client)` builds the session of each accepted publish.
    """

    def __init__(self, factory: SessionFactory, keys: Iterable[str] | None = None, app: str | None = "live") -> None:
        self._factory = factory
        self._keys = None if keys is None else frozenset(keys)
        self._app = app
        self._live: set[str] = set()
        self.refused = 0

    @property
    def live(self) -> frozenset[str]:
        return frozenset(self._live)

    async def authorize(self, app: str, stream_key: str, client: str) -> PublishSession | None:
        unknown = self._keys is not None and stream_key not in self._keys
        if unknown or (self._app is not None and app != self._app) or stream_key in self._live:
            self.refused += 1
            return None
        session = self._factory(app, stream_key, client)
        self._live.add(stream_key)
        return _ReleasingSession(session, lambda: self._live.discard(stream_key))
