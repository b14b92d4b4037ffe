"""The bounds every RTMP connection is held to, so that one client cannot hold or starve the server."""

from dataclasses import dataclass

from workers.ingest.config import IngestSettings
from workers.ingest.rtmp.chunks import MAX_CHUNK_STREAM_ID, MAX_MESSAGE_LENGTH


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

    def __post_init__(self) -> None:
        if min(self.handshake_timeout_seconds, self.idle_timeout_seconds, self.authorize_timeout_seconds) <= 0:
            raise ValueError("timeouts must be positive")
        if not 0 < self.max_message_bytes <= MAX_MESSAGE_LENGTH:
            raise ValueError(f"max_message_bytes must be in 1..{MAX_MESSAGE_LENGTH}")
        if self.max_connections_per_address < 1:
            raise ValueError("max_connections_per_address must be positive")
        if not 1 <= self.max_chunk_streams <= MAX_CHUNK_STREAM_ID:
            raise ValueError(f"max_chunk_streams must be in 1..{MAX_CHUNK_STREAM_ID}")
        if not 1 <= self.ack_window_bytes <= 0x7FFFFFFF:
            raise ValueError("ack_window_bytes must be in 1..0x7FFFFFFF")

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
        )
