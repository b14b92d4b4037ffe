"""`remux_to_mp4()`: MPEG-TS (a clip's segments, concatenated) into one MP4, packets copied.

PyAV (libavformat's own demuxer and muxer, the wheel bundling them) instead of an FFmpeg binary:
it runs in a Lambda from a layer with no executable to unpack, and the MP4 muxer converts the
stream formats itself (AAC's ADTS headers to an AudioSpecificConfig, H.264's Annex B to `avcC`).
Nothing is decoded or encoded: the MP4 is the segments' frames, byte for byte.

Timestamps start at 0 (the earliest stream's first packet), as `ffmpeg -c copy` writes them. A
stream whose timestamps jump (a broadcast resumed by another worker restarts its clock) goes on
right after its previous packet, so the file has no gap and never runs backwards.
"""

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import av.error

from letslive.errors import LetsLiveError

# A jump forward larger than this between two packets of a stream is a discontinuity, not a pause.
MAX_GAP_SECONDS: Final = 5.0
# Moves the index to the front: a browser plays the download while it still loads.
MP4_OPTIONS: Final = {"movflags": "+faststart"}


class RemuxError(LetsLiveError):
    """The segments are not media this muxer can copy into an MP4."""

    code = "remux-failed"


def remux_to_mp4(source: Path, output: Path, duration_seconds: float, on_progress: Callable[[float], None]) -> None:
    """Write `source`'s audio and video to `output` as an MP4; `on_progress(fraction)` as the
    packets go (by media time out of `duration_seconds`). `RemuxError` when it cannot be read
    or has no video."""
    try:
        with av.open(str(source)) as demuxer, av.open(str(output), "w", format="mp4", options=MP4_OPTIONS) as muxer:
            inputs = [s for s in demuxer.streams if s.type in ("video", "audio")]
            if not any(s.type == "video" for s in inputs):
                raise RemuxError("the clip's media has no video")
            outputs = {s.index: muxer.add_stream_from_template(s) for s in inputs}
            start = Fraction(demuxer.start_time or 0, 1_000_000)  # the earliest stream's first packet
            shifts: dict[int, int] = {}
            last: dict[int, int] = {}
            for packet in demuxer.demux(inputs):
                if packet.dts is None or packet.pts is None:  # the demuxer's flush packets
                    continue
                index, base = packet.stream.index, packet.stream.time_base
                assert base is not None
                shift = shifts.setdefault(index, -round(start / base))
                dts = packet.dts + shift
                previous = last.get(index)
                if previous is not None and not previous < dts <= previous + MAX_GAP_SECONDS / base:
                    shift += previous + max(packet.duration or 1, 1) - dts
                    shifts[index] = shift
                    dts = packet.dts + shift
                packet.pts, packet.dts = packet.pts + shift, dts
                last[index] = dts
                packet.stream = outputs[index]
                muxer.mux(packet)
                if duration_seconds > 0:
                    on_progress(min(float(dts * base) / duration_seconds, 1.0))
    except av.error.FFmpegError as exc:
        raise RemuxError(f"the clip's media could not be remuxed: {exc.strerror or exc}") from exc
    on_progress(1.0)
