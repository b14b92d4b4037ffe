"""A broadcast's recording as it reached the media store, and its VOD written from it.

The ingest worker stores, per rung, the live playlist (`<rung>.m3u8`, the last few segments)
and the recording (`event_<rung>.m3u8`, every segment up to a recent one), written so that the
two always overlap; with the master (`master.m3u8`) they name everything stored. That is all
another process needs to finish a broadcast whose worker died: `finalize_recording` writes the
VOD playlists (`vod_<rung>.m3u8`, ENDLIST) and the VOD master from them, and says what to
record (`VodService.record_vod`).
"""

from dataclasses import dataclass
from typing import Final, Protocol

from letslive.constants import MEDIA_PREFIX
from letslive.errors import MediaNotFound
from letslive.media.playlists import (
    Segment,
    merge_segments,
    parse_master_playlist,
    parse_media_playlist,
    vod_playlist,
)
from letslive.models.streams import BROADCASTS_MEDIA_DIR, LIVE_PLAYLIST
from letslive.models.vods import VodRung

PLAYLIST_TYPE: Final = "application/vnd.apple.mpegurl"
VOD_PLAYLIST_CACHE: Final = "public, max-age=300"
LIVE_MASTER: Final = LIVE_PLAYLIST
VOD_MASTER: Final = "vod.m3u8"
THUMBNAIL: Final = "thumbnail.jpg"
EVENT_PREFIX: Final = "event_"
VOD_PREFIX: Final = "vod_"


def broadcast_prefix(broadcast_id: str) -> str:
    """Bucket key prefix of a broadcast; CloudFront serves it as `/hls/broadcasts/<id>/`."""
    return f"{MEDIA_PREFIX}/{BROADCASTS_MEDIA_DIR}/{broadcast_id}"


class RecordingStore(Protocol):
    """The media store as the recordings use it (`letslive.services.storage.MediaStorage`)."""

    def put(self, key: str, body: bytes, content_type: str, cache_control: str) -> None: ...

    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class FinalizedRecording:
    playback_key: str
    duration_seconds: float
    rungs: list[VodRung]
    thumbnail_key: str | None
    segments: int  # of the top rung


def recorded_segments(store: RecordingStore, prefix: str, rung: str) -> list[Segment]:
    """Every stored segment of one rung: the recording merged with the live window."""
    segments: list[Segment] = []
    for name in (f"{EVENT_PREFIX}{rung}.m3u8", f"{rung}.m3u8"):
        try:
            text = store.get(f"{prefix}/{name}").decode()
        except MediaNotFound:
            continue
        segments = merge_segments(segments, parse_media_playlist(text))
    return segments


def finalize_recording(store: RecordingStore, broadcast_id: str) -> FinalizedRecording | None:
    """Write the VOD of a broadcast from what reached the store; None when no segment did (no
    master is stored before every rung has one). `DependencyUnavailable` if the store fails."""
    prefix = broadcast_prefix(broadcast_id)
    try:
        master = store.get(f"{prefix}/{LIVE_MASTER}").decode()
    except MediaNotFound:
        return None
    variants = parse_master_playlist(master)
    per_rung = {
        variant.uri: recorded_segments(store, prefix, variant.uri.removesuffix(".m3u8")) for variant in variants
    }
    if not variants or not all(per_rung.values()):
        return None
    for uri, segments in per_rung.items():
        store.put(f"{prefix}/{VOD_PREFIX}{uri}", vod_playlist(segments).encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
    vod_master = "\n".join(f"{VOD_PREFIX}{line}" if line in per_rung else line for line in master.splitlines()) + "\n"
    store.put(f"{prefix}/{VOD_MASTER}", vod_master.encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
    top = per_rung[variants[0].uri]
    try:
        store.get(f"{prefix}/{THUMBNAIL}")
        thumbnail: str | None = f"{prefix}/{THUMBNAIL}"
    except MediaNotFound:
        thumbnail = None
    rungs = [
        VodRung(
            name=variant.uri.removesuffix(".m3u8"),
            height=variant.resolution[1] if variant.resolution else 0,
            bandwidth=variant.bandwidth,
        )
        for variant in variants
    ]
    return FinalizedRecording(
        playback_key=f"{prefix}/{VOD_MASTER}",
        duration_seconds=sum(segment.duration for segment in top),
        rungs=rungs,
        thumbnail_key=thumbnail,
        segments=len(top),
    )
