"""The restream destination (tests/support/nginx_rtmp.py) with real FFmpeg publishers: it takes
RTMP and RTMPS with an accepted key and records what arrived, refuses other keys, and its faults
(a refused port, a stalled server) do to a publisher what the restream tests rely on."""

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import nginx_rtmp
from tests.support.nginx_rtmp import NginxRtmp, NginxRtmpError, probe_recording, refused_url

pytestmark = pytest.mark.tools("ffmpeg", "ffprobe")

KEY = "live_harness_0123456789"
FPS = 30
# Bounds FFmpeg's start and end (a paced publish takes its duration on top).
TIMEOUT = 10.0

FFMPEG = ("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-stats_period", "0.1")
TEST_STREAM = ("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}", "-f", "lavfi", "-i", "sine")
H264_AAC = ("-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-c:a", "aac")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NginxRtmp]:
    with NginxRtmp({KEY}, tmp_path / "nginx") as server:
        yield server


@pytest.fixture(scope="module")
def heavy_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of 20 Mbit/s (constant: filler) H.264 + AAC in FLV."""
    path = tmp_path_factory.mktemp("source") / "heavy.flv"
    cbr = ("-b:v", "20M", "-minrate", "20M", "-maxrate", "20M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr")
    encode = [*FFMPEG, *TEST_STREAM, *H264_AAC, *cbr, "-t", "2", str(path)]
    subprocess.run(encode, check=True, capture_output=True, timeout=TIMEOUT)
    return path


def ffmpeg(*args: str) -> subprocess.Popen[str]:
    """FFmpeg with `args`, its `-progress` lines on its stdout."""
    return subprocess.Popen([*FFMPEG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def publisher(url: str, seconds: float = 2) -> subprocess.Popen[str]:
    """FFmpeg encoding a 640x360 H.264 + AAC test stream and publishing it in real time."""
    return ffmpeg("-re", *TEST_STREAM, *H264_AAC, "-t", str(seconds), "-f", "flv", url)


def finish(process: subprocess.Popen[str], timeout: float = TIMEOUT) -> tuple[int, str]:
    """FFmpeg's exit code and stderr once it has ended on its own (killed if it has not)."""
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stderr


class Progress:
    """The frame count FFmpeg last reported, and when it last grew (read in a thread: FFmpeg
    blocked in a write reports nothing)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.frames = 0
        self.grew_at = time.monotonic()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, lines: Iterator[str]) -> None:
        for line in lines:
            key, _, value = line.strip().partition("=")
            if key == "frame" and int(value) > self.frames:
                self.frames, self.grew_at = int(value), time.monotonic()

    def wait_stopped(self, quiet: float, timeout: float) -> None:
        """Until no frame has gone out for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.grew_at < quiet:
            assert time.monotonic() < deadline, f"still sending after {timeout} s (frame {self.frames})"
            time.sleep(0.05)

    def wait_beyond(self, frames: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.frames <= frames:
            assert time.monotonic() < deadline, f"no frame past {frames} within {timeout} s"
            time.sleep(0.05)


def test_rtmp_publish_is_seen_and_recorded_as_sent(server: NginxRtmp) -> None:
    sender = publisher(f"{server.rtmp_url}/{KEY}", seconds=2)
    stats = server.wait_publishing(KEY)
    assert (stats.video_codec, stats.width, stats.height) == ("H264", 640, 360)
    assert finish(sender, TIMEOUT + 2) == (0, "")
    server.wait_not_publishing(KEY)
    (recording,) = server.recordings(KEY)
    probed = probe_recording(recording)
    assert (probed.video_codec, probed.width, probed.height, probed.audio_codec) == ("h264", 640, 360, "aac")
    assert probed.video_packets == 2 * FPS  # every frame sent arrived
    assert probed.audio_packets > 0


def test_rtmps_publish_goes_through_the_tls_listener(server: NginxRtmp) -> None:
    sender = publisher(f"{server.rtmps_url}/{KEY}", seconds=1)
    assert server.wait_publishing(KEY).width == 640
    assert finish(sender, TIMEOUT + 1) == (0, "")
    server.wait_not_publishing(KEY)
    (recording,) = server.recordings(KEY)
    assert probe_recording(recording).video_packets == FPS


def test_a_refused_key_ends_the_publisher_at_once(server: NginxRtmp) -> None:
    start = time.monotonic()
    code, stderr = finish(publisher(f"{server.rtmp_url}/live_not_a_key"))
    assert time.monotonic() - start < 5
    assert code != 0
    assert stderr.strip().splitlines()[-1].endswith("/live_not_a_key: Input/output error")
    assert server.publishing() == {}
    assert server.recordings("live_not_a_key") == []


@pytest.mark.parametrize("scheme", ["rtmp", "rtmps"])
def test_a_refused_port_fails_the_publisher_at_once(scheme: str) -> None:
    url = refused_url().replace("rtmp://", f"{scheme}://", 1)
    start = time.monotonic()
    code, stderr = finish(publisher(f"{url}/{KEY}"))
    assert time.monotonic() - start < 5
    assert code != 0
    assert stderr.strip().splitlines()[-1] == f"{url}/{KEY}: Connection refused"


def test_a_stalled_server_blocks_the_publisher_until_resumed(server: NginxRtmp, heavy_source: Path) -> None:
    # The socket buffers hold megabytes on loopback (some ten seconds of a 2 Mbit/s stream), so
    # the publisher copies (no encoder to starve of CPU) a 20 Mbit/s source at four times real
    # time: they fill within a second of the stall.
    copy = ffmpeg(
        *("-readrate", "4", "-stream_loop", "-1", "-i", str(heavy_source)),
        *("-c", "copy", "-f", "flv", f"{server.rtmp_url}/{KEY}"),
    )
    try:
        progress = Progress(copy)
        server.wait_publishing(KEY)
        server.stall()
        progress.wait_stopped(quiet=1.0, timeout=8)
        stopped_at = progress.frames
        time.sleep(1.0)
        # Running, it would send 4 * FPS frames a second; stalled, a frame at most (the kernel
        # can still find room for a last one in the stopped server's receive queue).
        assert progress.frames - stopped_at <= 1
        assert copy.poll() is None  # blocked, not failed: FFmpeg has no write timeout by default
        server.resume()
        progress.wait_beyond(stopped_at + FPS, timeout=5)
        assert KEY in server.publishing()
    finally:
        copy.kill()
        copy.communicate()


def test_stop_ends_a_stalled_server(tmp_path: Path) -> None:
    with NginxRtmp({KEY}, tmp_path) as server:
        server.stall()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.rtmp_port), 1):
        pass


def test_missing_nginx_names_make_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nginx_rtmp, "RTMP_MODULE", tmp_path / "ngx_rtmp_module.so")
    with pytest.raises(NginxRtmpError, match=r"ngx_rtmp_module\.so missing: `make system`"):
        NginxRtmp({KEY}, tmp_path).start()


def test_keys_are_checked_before_they_reach_the_config() -> None:
    with pytest.raises(ValueError, match="stream keys must match"):
        NginxRtmp({"a key; }"})
