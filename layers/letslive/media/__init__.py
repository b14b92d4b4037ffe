"""Media: the transcoding ladder, the FFmpeg command that encodes it, and HLS playlists.

Pure domain code (subprocess for ffprobe only): the ingest worker runs the command, watches the
output directory and uploads; nothing here knows about S3 or asyncio.
"""

from letslive.media.ffmpeg import EncoderTuning, build_transcode_args
from letslive.media.ladder import PRESETS, Ladder, PlannedRung, Rung, plan
from letslive.media.playlists import (
    MediaPlaylist,
    PlaylistError,
    Segment,
    Variant,
    join_parts,
    master_playlist,
    merge_segments,
    parse_master_playlist,
    parse_media_playlist,
    vod_playlist,
)
from letslive.media.probe import ProbeError, probe
from letslive.media.source import SourceInfo, avc1_codec_string, avc_codec_string_from_config

__all__ = [
    "PRESETS",
    "EncoderTuning",
    "Ladder",
    "MediaPlaylist",
    "PlannedRung",
    "PlaylistError",
    "ProbeError",
    "Rung",
    "Segment",
    "SourceInfo",
    "Variant",
    "avc1_codec_string",
    "avc_codec_string_from_config",
    "build_transcode_args",
    "join_parts",
    "master_playlist",
    "merge_segments",
    "parse_master_playlist",
    "parse_media_playlist",
    "plan",
    "probe",
    "vod_playlist",
]
