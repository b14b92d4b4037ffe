"""A broadcast's recording as it reached the media store, and its VOD written from it.

The ingest worker stores, per rung, the live playlist (`<rung>.m3u8`, the last few segments)
and the recording, every segment up to a recent one: full chunks that never change
(`event_<rung>_<n>.m3u8`) and the open recording after them (`event_<rung>.m3u8`, which says how
many chunks there are: `letslive.media.playlists.open_recording`), written so that the
recording and the live playlist always overlap; with the master (`master.m3u8`) they name
everything stored. The same files are what a viewer rewinds a live broadcast over. That is all
another process needs to finish a broadcast whose worker died: `finalize_recording` writes the
VOD playlists (`vod_<rung>.m3u8`, ENDLIST) and the VOD master from them, and says what to
record (`VodService.record_vod`).
"""

import contextlib
from dataclasses import dataclass
from typing import Final, Protocol

from letslive.constants import MEDIA_PREFIX
from letslive.errors import MediaNotFound
from letslive.media.playlists import (
    Segment,
    merge_segments,
    parse_master_playlist,
    parse_media_playlist,
    recording_index,
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
# Segments per full chunk of the recording: 5 minutes of 1 s segments, about 30 KB of playlist.
RECORDING_CHUNK_SEGMENTS: Final = 300
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


def open_recording_name(rung: str) -> str:
    return f"{EVENT_PREFIX}{rung}.m3u8"


def recording_chunk_name(rung: str, index: int) -> str:
    return f"{EVENT_PREFIX}{rung}_{index:05d}.m3u8"


def recorded_segments(store: RecordingStore, prefix: str, rung: str) -> list[Segment]:
    """Every stored segment of one rung: the recording's chunks, then the open recording, merged
    with the live window."""
    texts: list[str] = []
    try:
        opened = store.get(f"{prefix}/{open_recording_name(rung)}").decode()
    except MediaNotFound:
        opened = None
    if opened is not None:
        index = recording_index(opened)
        chunks = index.chunks if index is not None else 0  # a recording written whole has none
        texts += [store.get(f"{prefix}/{recording_chunk_name(rung, n)}").decode() for n in range(chunks)]
        texts.append(opened)
    with contextlib.suppress(MediaNotFound):  # none yet: the broadcast never stored a segment
        texts.append(store.get(f"{prefix}/{rung}.m3u8").decode())
    segments: list[Segment] = []
    for text in texts:
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
