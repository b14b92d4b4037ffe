"""The bounds every RTMP connection is held to, so that one client cannot hold or starve the server.

Two regimes. Until a `publish` is accepted a connection is anyone's: it gets small budgets of
bytes, messages, decode work and time (`pre_publish_*`, `publish_timeout_seconds`), and counts
against a cap of such connections across all addresses. Once its stream key is accepted, the
media limits apply (`max_message_bytes`, ...). Every connection's buffered and partly received
bytes count against one `MemoryBudget` for the whole server.
"""

from dataclasses import dataclass

from workers.ingest.config import IngestSettings
from workers.ingest.rtmp.chunks import DEFAULT_CHUNK_SIZE, MAX_CHUNK_STREAM_ID, MAX_MESSAGE_LENGTH
from workers.ingest.rtmp.errors import LimitExceeded


@dataclass(frozen=True, slots=True)
class RtmpLimits:
    # C0+C1 to C2: a few round trips; a client that says nothing is dropped after this.
    handshake_timeout_seconds: float = 5.0
    # Longest silence after the handshake. Encoders send media many times a second.
    idle_timeout_seconds: float = 30.0
    # A larger declared message length closes the connection before any byte is buffered.
    max_message_bytes: int = 8 * 1024 * 1024
    max_connections_per_address: int = 4
    # OBS and FFmpeg use five or fewer; each id keeps state until the connection ends.
    max_chunk_streams: int = 32
    # Window Acknowledgement Size and Set Peer Bandwidth we announce (FMS's and librtmp's value);
    # also our acknowledgement window until the client announces its own.
    ack_window_bytes: int = 2_500_000
    authorize_timeout_seconds: float = 10.0

    # Before `publish` is accepted. OBS's whole sequence (connect to publish) is under 1 KiB in
    # about ten messages and forty AMF0 values, its largest message (connect) under 512 bytes.
    pre_publish_max_message_bytes: int = 4 * 1024
    # Chunk bytes after the handshake, headers included.
    pre_publish_max_bytes: int = 64 * 1024
    # Not settings: bounds on work no client comes near. Counting messages bounds what bytes do
    # not (a type 3 header with no payload is a 1-byte message).
    pre_publish_max_messages: int = 64
    pre_publish_max_amf_values: int = 256
    # From the connection's start to its `publish`: what a client may hold a connection for
    # without a stream key (the per-read idle timeout alone lets it stay forever).
    publish_timeout_seconds: float = 10.0
    # Connections that have not published yet, across all addresses (publishers do not count).
    max_pending_connections: int = 256
    # Unparsed and partly received message bytes held for all connections together.
    memory_budget_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        timeouts = (
            self.handshake_timeout_seconds,
            self.idle_timeout_seconds,
            self.authorize_timeout_seconds,
            self.publish_timeout_seconds,
        )
        if min(timeouts) <= 0:
            raise ValueError("timeouts must be positive")
        if not 0 < self.max_message_bytes <= MAX_MESSAGE_LENGTH:
            raise ValueError(f"max_message_bytes must be in 1..{MAX_MESSAGE_LENGTH}")
        if min(self.max_connections_per_address, self.max_pending_connections) < 1:
            raise ValueError("connection limits must be positive")
        if not 1 <= self.max_chunk_streams <= MAX_CHUNK_STREAM_ID:
            raise ValueError(f"max_chunk_streams must be in 1..{MAX_CHUNK_STREAM_ID}")
        if not 1 <= self.ack_window_bytes <= 0x7FFFFFFF:
            raise ValueError("ack_window_bytes must be in 1..0x7FFFFFFF")
        # A connect with its command object does not fit in less than the default chunk size.
        if not DEFAULT_CHUNK_SIZE <= self.pre_publish_max_message_bytes <= self.max_message_bytes:
            raise ValueError(f"pre_publish_max_message_bytes must be in {DEFAULT_CHUNK_SIZE}..max_message_bytes")
        if self.pre_publish_max_bytes < self.pre_publish_max_message_bytes:
            raise ValueError("pre_publish_max_bytes must hold at least one message")
        if min(self.pre_publish_max_messages, self.pre_publish_max_amf_values) < 1:
            raise ValueError("pre-publish budgets must be positive")
        # One publisher at its limits: a whole message buffered as one chunk, two held partly.
        if self.memory_budget_bytes < 3 * self.max_message_bytes:
            raise ValueError("memory_budget_bytes must hold three messages of max_message_bytes")

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> "RtmpLimits":
        return cls(
            handshake_timeout_seconds=settings.rtmp_handshake_timeout_seconds,
            idle_timeout_seconds=settings.rtmp_idle_timeout_seconds,
            max_message_bytes=settings.rtmp_max_message_bytes,
            max_connections_per_address=settings.rtmp_max_connections_per_address,
            max_chunk_streams=settings.rtmp_max_chunk_streams,
            ack_window_bytes=settings.rtmp_ack_window_bytes,
            authorize_timeout_seconds=settings.rtmp_authorize_timeout_seconds,
            pre_publish_max_message_bytes=settings.rtmp_pre_publish_max_message_bytes,
            pre_publish_max_bytes=settings.rtmp_pre_publish_max_bytes,
            publish_timeout_seconds=settings.rtmp_publish_timeout_seconds,
            max_pending_connections=settings.rtmp_max_pending_connections,
            memory_budget_bytes=settings.rtmp_memory_budget_bytes,
        )


class MemoryBudget:
    """Bytes held for clients, server-wide: each session charges what it holds (input not parsed
    yet, partly received messages) and is refused growth past `limit`; what it held is returned
    when it closes. Plain arithmetic, no I/O: the sessions stay pure.
    """

    __slots__ = ("held", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a memory budget must be positive")
        self.limit = limit
        self.held = 0

    def charge(self, before: int, after: int) -> None:
        """A holder's bytes go from `before` to `after`; `LimitExceeded` (nothing charged) if
        that takes the total past the limit. Shrinking always succeeds."""
        total = self.held + after - before
        if after > before and total > self.limit:
            raise LimitExceeded(f"the server's {self.limit} bytes for buffered client input are taken")
        self.held = total
