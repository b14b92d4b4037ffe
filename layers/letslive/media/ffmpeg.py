"""The FFmpeg command line for one broadcast: decode once, split, encode the ladder, write HLS.

One process per broadcast (not one per rung): the input is read and decoded once, the `split`
filter feeds every scaled rung, and the source rung is copied without decoding at all. On the
design's 2 vCPU task that is the difference between keeping up with a 1080p30 stream and not
(`bench/ladder.py` measures both).

Keyframes. Every segment must start on a keyframe at the same instant in every rung, so that a
player can switch rungs at any segment boundary. Encoded rungs get closed GOPs, `-sc_threshold 0`
(no extra keyframes at scene cuts) and forced IDR frames:
- when the top rung is the copied source, at the source's own keyframes (`-force_key_frames
  source`): the copied rung can only be cut there, and following them keeps the rungs aligned
  even when the source's GOP is not a whole number of seconds (29.97 fps, dropped frames);
  `-g` caps the encoded GOP at two segments should the source's GOP be longer;
- otherwise at every segment boundary by time (`expr:gte(t,n_forced*<segment>)`), with `-g` and
  `-keyint_min` at one segment's frames.

So the copied rung needs the streamer's encoder to put a keyframe at every segment boundary
(OBS "Keyframe Interval" 1 s). When it does not, the planner (`letslive.media.planner`) re-encodes
the top rung too and every rung is cut by time.

Audio is encoded once per rung (AAC-LC, the rung's bitrate) and muxed into the rung's segments:
muxed segments mean one request per segment and a plain player configuration, and encoding from
the same decoded samples gives every rung identical audio timing, so switching rungs does not
click. The three AAC encodes cost 0.8 CPU s per 20 s of media here, 4 % of one core in all.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from letslive.errors import InvalidInput
from letslive.media.ladder import PlannedRung

DEFAULT_SEGMENT_SECONDS: Final = 1.0
DEFAULT_WINDOW_SEGMENTS: Final = 6
MASTER_PLAYLIST: Final = "master.m3u8"
# `%v` is the rung name (var_stream_map `name:`), `%06d` the media sequence number.
SEGMENT_PATTERN: Final = "%v_%06d.ts"
PLAYLIST_PATTERN: Final = "%v.m3u8"
# `temp_file` makes FFmpeg write `<segment>.tmp` and rename it when complete, so an uploader
# watching the directory never sees a half-written segment (playlists are always renamed).
HLS_FLAGS: Final = "program_date_time+independent_segments+temp_file"
TEMP_SUFFIX: Final = ".tmp"

Keyframes = Literal["auto", "source", "time"]


@dataclass(frozen=True, slots=True)
class EncoderTuning:
    """x264 and threading settings; the defaults are what measured best on 2 vCPU.

    `zerolatency` drops B-frames, lookahead and mbtree, so a frame leaves the encoder as soon as
    it is in (at `veryfast` x264 otherwise holds rc-lookahead 10 + frame-thread frames, ~0.4 s
    at 30 fps, which every viewer's latency inherits); it also costs 17 % less CPU.
    `zerolatency` also switches x264 to sliced threads, and FFmpeg 5.1 calls its encoders one
    after another from its one main thread, so each call blocks until its frame is encoded and a
    core sits idle. `frame_threads` turns frame threads back on (one frame of delay per extra
    thread, still no lookahead): each call returns at once and the encoders overlap each other
    and the decoder.

    Measured with `bench/ladder.py --sweep` (1080p30 source copied + 720p + 360p, 20 s, best of
    quiet runs): sliced threads 3.0x realtime at 1.4-1.5 cores; frame threads=2 3.4-3.5x at
    1.6 cores for the same CPU seconds (the default); frame threads=3 3.3x; x264 without
    zerolatency 3.1x at 1.8 cores and 20 % more CPU. `-filter_complex_threads 2` (`filter_threads`)
    and decoder `-threads 2` gained nothing (FFmpeg 5.1's scale filter does not slice-thread; the
    H.264 decoder already frame-threads); bilinear instead of bicubic scaling gained ~3 %, within
    the noise, so the sharper bicubic stays.
    """

    preset: str = "veryfast"
    zerolatency: bool = True
    frame_threads: int | None = 2
    filter_threads: int | None = None
    decoder_threads: int | None = None
    x264_params: tuple[str, ...] = ()
    scale_flags: str = "bicubic"


def build_transcode_args(
    plan: Sequence[PlannedRung],
    input: str = "pipe:0",
    output_dir: str | Path = ".",
    *,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    window_segments: int = DEFAULT_WINDOW_SEGMENTS,
    input_format: str | None = None,
    input_options: Sequence[str] = (),
    realtime_input: bool = False,
    start_number: int = 0,
    keyframes: Keyframes = "auto",
    source_fps: float | None = None,
    tuning: EncoderTuning | None = None,
    ffmpeg: str = "ffmpeg",
    loglevel: str = "warning",
) -> list[str]:
    """The argv of the one FFmpeg process that turns `input` into the ladder's HLS in `output_dir`.

    It writes `<rung>.m3u8` (a live window of `window_segments`) and `<rung>_<sequence>.ts` per
    rung; the master playlist is not FFmpeg's (it lacks CODECS for a copied stream, FRAME-RATE
    and AVERAGE-BANDWIDTH) but `playlists.master_playlist(plan)`, written by the caller.
    `start_number` continues sequence numbers and names after a reconnect. Audio is mapped when
    the plan has some (`SourceInfo.audio_codec` was not None). `source_fps` is the input's frame
    rate (the top rung's when not given).

    FFmpeg never deletes a segment: the uploader removes each local file once it is in S3, and
    keeps the list of segments for the VOD (`playlists.merge_segments`).
    """
    if not plan:
        raise InvalidInput("the plan has no rung")
    if any(rung.copy for rung in plan[1:]):
        raise InvalidInput("only the top rung can be the copied source")
    if not 0.1 <= segment_seconds <= 30:
        raise InvalidInput(f"segment length {segment_seconds} s is out of range")
    if window_segments < 1:
        raise InvalidInput("the live window needs at least one segment")
    if start_number < 0:
        raise InvalidInput("start_number must not be negative")
    tuning = tuning or EncoderTuning()
    out = Path(output_dir)
    copy_top = plan[0].copy
    mode: Keyframes = ("source" if copy_top else "time") if keyframes == "auto" else keyframes
    has_video = plan[0].has_video
    if not has_video and len(plan) > 1:
        raise InvalidInput("an audio-only plan has one rendition")
    encoded = [(index, rung) for index, rung in enumerate(plan) if not rung.copy and has_video]
    has_audio = plan[0].has_audio

    args = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel]
    if encoded and tuning.filter_threads is not None:
        args += ["-filter_complex_threads", str(tuning.filter_threads)]
    if realtime_input:
        args.append("-re")
    if tuning.decoder_threads is not None and encoded:
        args += ["-threads", str(tuning.decoder_threads)]
    if input_format is not None:
        args += ["-f", input_format]
    args += [*input_options, "-i", input]
    if encoded:
        # The frames a capped rung drops are dropped before scaling: against the source's rate,
        # which is above every rung's when the top rung itself is capped (1080p60 -> 720p60).
        fps = source_fps if source_fps is not None else max(rung.fps for rung in plan)
        args += ["-filter_complex", _filter_graph(encoded, fps, tuning)]

    for index, rung in enumerate(plan if has_video else ()):
        args += ["-map", "0:v:0" if rung.copy else f"[v{index}]"]
    if has_audio:
        for _ in plan:
            args += ["-map", "0:a:0"]

    for index, rung in enumerate(plan if has_video else ()):
        args += _video_codec_args(index, rung, segment_seconds, mode, tuning)
    if has_audio:
        for index, rung in enumerate(plan):
            args += [f"-c:a:{index}", "aac", f"-b:a:{index}", f"{rung.audio_kbps}k", f"-ac:a:{index}", "2"]

    stream_map = " ".join(
        (f"v:{index}," if has_video else "") + (f"a:{index}," if has_audio else "") + f"name:{rung.name}"
        for index, rung in enumerate(plan)
    )
    args += [
        # Copied packets arrive before the encoders' first output; let the muxer queue them.
        "-max_muxing_queue_size",
        "4096",
        "-f",
        "hls",
        "-hls_time",
        _number(segment_seconds),
        "-hls_list_size",
        str(window_segments),
        "-hls_flags",
        HLS_FLAGS,
        "-hls_segment_type",
        "mpegts",
        "-start_number",
        str(start_number),
        "-hls_segment_filename",
        str(out / SEGMENT_PATTERN),
        "-var_stream_map",
        stream_map,
        str(out / PLAYLIST_PATTERN),
    ]
    return args


def _filter_graph(encoded: list[tuple[int, PlannedRung]], source_fps: float, tuning: EncoderTuning) -> str:
    """`[0:v:0]split=N[...]` then, per encoded rung, frame-rate cap, scale and 8-bit 4:2:0."""
    chains: list[str] = []
    if len(encoded) == 1:
        inputs = ["[0:v:0]"]
    else:
        inputs = [f"[s{index}]" for index, _ in encoded]
        chains.append(f"[0:v:0]split={len(encoded)}{''.join(inputs)}")
    for label, (index, rung) in zip(inputs, encoded, strict=True):
        steps: list[str] = []
        if rung.fps < source_fps:
            steps.append(f"fps={_rate(rung.fps)}")  # before scaling: the dropped frames cost nothing
        if rung.scale:
            # setsar=1: even-width rounding must not turn into a non-square pixel aspect ratio.
            steps += [f"scale={rung.width}:{rung.height}:flags={tuning.scale_flags}", "setsar=1"]
        steps.append("format=yuv420p")  # x264 8-bit, whatever the source's pixel format
        chains.append(f"{label}{','.join(steps)}[v{index}]")
    return ";".join(chains)


def _video_codec_args(
    index: int, rung: PlannedRung, segment_seconds: float, mode: Keyframes, tuning: EncoderTuning
) -> list[str]:
    if rung.copy:
        return [f"-c:v:{index}", "copy"]
    gop = max(1, round(rung.fps * segment_seconds))
    if mode == "source":
        # Keyframes where the copied rung has them; -g only bounds an overlong source GOP.
        keyframe_args = ["-force_key_frames:v:" + str(index), "source", f"-g:v:{index}", str(2 * gop)]
    else:
        keyframe_args = [
            f"-force_key_frames:v:{index}",
            f"expr:gte(t,n_forced*{_number(segment_seconds)})",
            f"-g:v:{index}",
            str(gop),
            f"-keyint_min:v:{index}",
            str(gop),
        ]
    # Each frame keeps its input timestamp (`vfr`: never duplicated to fill a gap) on the rung's
    # own rate. The HLS muxer is not a variable-frame-rate format, so FFmpeg's default is `cfr`,
    # which repeats the first frame back to the input's start: when audio starts before video
    # (OBS, a late first keyframe) every encoded rung's first segment grew by that gap while the
    # copied rung's did not, and a 15 s broadcast's encoded VOD summed to 16 s. `-r` also keeps
    # the rate right when the probe could not measure it (FFmpeg would fall back to 25 fps).
    timing_args = [f"-fps_mode:v:{index}", "vfr", f"-r:v:{index}", _rate(rung.fps)]
    x264_params = list(tuning.x264_params)
    if tuning.frame_threads is not None:
        x264_params += ["sliced-threads=0", f"threads={tuning.frame_threads}"]
    args = [
        f"-c:v:{index}",
        "libx264",
        f"-preset:v:{index}",
        tuning.preset,
        f"-profile:v:{index}",
        str(rung.profile),
        f"-level:v:{index}",
        rung.level,
        f"-b:v:{index}",
        f"{rung.video_kbps}k",
        f"-maxrate:v:{index}",
        f"{rung.max_kbps}k",
        f"-bufsize:v:{index}",
        f"{rung.buffer_kbits}k",
        *timing_args,
        *keyframe_args,
        f"-sc_threshold:v:{index}",
        "0",
        f"-flags:v:{index}",
        "+cgop",
        f"-forced-idr:v:{index}",
        "1",
    ]
    if tuning.zerolatency:
        args += [f"-tune:v:{index}", "zerolatency"]
    if x264_params:
        args += [f"-x264-params:v:{index}", ":".join(x264_params)]
    return args


def _rate(fps: float) -> str:
    """A frame rate for a filter; NTSC rates exact (29.97 -> 30000/1001) so that the kept frames
    stay on the source's timestamps instead of drifting off them."""
    for numerator in (24000, 30000, 48000, 60000, 120000):
        if abs(fps - numerator / 1001) < 0.005:
            return f"{numerator}/1001"
    return _number(fps)


def _number(value: float) -> str:
    """1.0 -> "1", 29.97 -> "29.97": no float noise on the command line."""
    return f"{value:.6f}".rstrip("0").rstrip(".")
