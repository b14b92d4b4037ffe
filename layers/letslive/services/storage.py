"""Media storage seam: where HLS segments, playlists and thumbnails are written.

`MediaStorage` is the interface the ingest worker, the sweeper and the health checks consume;
`letslive.data.storage.S3MediaStorage` is its backend in AWS and the emulator.
"""

from typing import Protocol


class MediaStorage(Protocol):
    def put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None: ...

    def get(self, key: str) -> bytes:
        """The object's bytes; `MediaNotFound` when there is none."""

    def ping(self) -> None:
        """Raise `DependencyUnavailable` unless the store answers."""


def media_storage() -> MediaStorage:
    """The configured media store."""
    from letslive.data.storage import s3_media_storage

    return s3_media_storage()
