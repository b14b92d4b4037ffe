"""One FFmpeg process per broadcast part: FLV in on stdin, the HLS ladder out to a directory.

The process is fed from the RTMP session; `-progress pipe:1` reports its speed on stdout, which
becomes the transcode speed the streamer's health page shows.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class TranscoderFailed(RuntimeError):
    """FFmpeg exited or stopped reading its input."""


@dataclass
class TranscodeProgress:
    """The last `-progress` block FFmpeg printed."""

    speed: float | None = None
    fps: float | None = None
    out_time_seconds: float | None = None
    updated_at: float = field(default_factory=time.monotonic)


def parse_progress_line(line: str, progress: TranscodeProgress) -> None:
    key, _, value = line.strip().partition("=")
    with contextlib.suppress(ValueError):
        if key == "speed" and value.endswith("x"):
            progress.speed = float(value[:-1])
        elif key == "fps":
            progress.fps = float(value)
        elif key == "out_time_us":
            progress.out_time_seconds = int(value) / 1_000_000
        elif key == "progress":
            progress.updated_at = time.monotonic()


# A transcoder whose output is within this much media time of its input is keeping up.
KEEPING_UP_SECONDS = 2.0


@dataclass
class SpeedMeter:
    """How fast a live transcode runs against its input: 1.0 is real time.

    FFmpeg's own `speed=` is an average since the process started, waiting for the first input
    included, so a live transcode that keeps up shows it creeping towards 1.0 from below for
    ever (and a live input cannot be transcoded faster than it arrives). So a reading is 1.0
    while FFmpeg's output is within `KEEPING_UP_SECONDS` of the media it was given; once it
    falls further behind, the media seconds it produced per media second it received since the
    last reading (below 1.0: losing ground; above: catching up).
    """

    _last: tuple[float, float] | None = None  # (input, output) media seconds at the last reading

    def read(self, input_seconds: float, output_seconds: float | None) -> float | None:
        if output_seconds is None:
            return None
        last, self._last = self._last, (input_seconds, output_seconds)
        if input_seconds - output_seconds <= KEEPING_UP_SECONDS:
            return 1.0
        if last is None or input_seconds <= last[0]:
            return None
        return round(max(0.0, (output_seconds - last[1]) / (input_seconds - last[0])), 3)


# Input queued for FFmpeg beyond what its pipe holds: about 40 s of a 6 Mbit/s source.
DEFAULT_QUEUE_BYTES = 32 * 1024 * 1024


class Transcoder:
    """One FFmpeg process, fed through a queue.

    The queue is why the RTMP socket is read at the network's pace even while FFmpeg lags
    (starting up, a CPU spike): a publisher that stops and closes while we lag resets the
    connection if our acknowledgements sit unread on its side, and a reset throws away what
    our kernel had received but we had not read yet — the end of the broadcast. Past
    `queue_bytes` writers wait, so a transcoder that never catches up still slows its publisher.
    """

    def __init__(
        self, args: list[str], output_dir: Path, stderr_lines: int = 20, queue_bytes: int = DEFAULT_QUEUE_BYTES
    ) -> None:
        # Progress to stdout once a second; the HLS goes to files, so stdout is free.
        self.args = [args[0], "-progress", "pipe:1", "-stats_period", "1", *args[1:]]
        self.output_dir = output_dir
        self.progress = TranscodeProgress()
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._stderr_tail: list[str] = []
        self._stderr_lines = stderr_lines
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._queue_bytes = queue_bytes
        self._changed = asyncio.Condition()
        self._feeder: asyncio.Task[None] | None = None
        self._failure: TranscoderFailed | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def start(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_progress(self._process.stdout)),
            asyncio.create_task(self._read_stderr(self._process.stderr)),
        ]
        self._feeder = asyncio.create_task(self._feed())

    async def _read_progress(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            parse_progress_line(raw.decode(errors="replace"), self.progress)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self._stderr_tail = [*self._stderr_tail[-(self._stderr_lines - 1) :], line]

    @property
    def queued_bytes(self) -> int:
        return self._queued

    async def write(self, data: bytes) -> None:
        """Queue input for FFmpeg; waits while the queue is full. Raises `TranscoderFailed`
        once FFmpeg has exited or stopped reading."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._failure is not None or self._queued < self._queue_bytes)
            if self._failure is not None:
                raise self._failure
            self._queue.append(data)
            self._queued += len(data)
            self._changed.notify_all()

    async def _feed(self) -> None:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._queue))
                data = self._queue[0]
            try:
                if process.returncode is not None:
                    raise TranscoderFailed(f"ffmpeg is not running: {self.stderr_tail}")
                process.stdin.write(data)
                await process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError, TranscoderFailed) as exc:
                failure = (
                    exc
                    if isinstance(exc, TranscoderFailed)
                    else TranscoderFailed(f"ffmpeg stopped reading: {self.stderr_tail}")
                )
                async with self._changed:
                    self._failure = failure
                    self._queue.clear()
                    self._queued = 0
                    self._changed.notify_all()
                return
            async with self._changed:
                self._queue.popleft()
                self._queued -= len(data)
                self._changed.notify_all()

    async def _drain_queue(self) -> None:
        """Wait until FFmpeg has been given everything queued (or failed)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._failure is not None or not self._queue)

    async def finish(self, grace_seconds: float = 30.0) -> int:
        """End of input: let FFmpeg flush the last segments and exit; killed after the grace."""
        process = self._process
        if process is None:
            return 0
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain_queue(), grace_seconds)
        if self._feeder is not None:
            self._feeder.cancel()
            await asyncio.gather(self._feeder, return_exceptions=True)
        grace_seconds = max(1.0, grace_seconds - (time.monotonic() - started))
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await process.stdin.wait_closed()
        try:
            code = await asyncio.wait_for(process.wait(), grace_seconds)
        except TimeoutError:
            logger.warning("ffmpeg did not exit in %.0fs; killing it", grace_seconds)
            process.kill()
            code = await process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if code != 0:
            logger.warning("ffmpeg exited with %s: %s", code, self.stderr_tail)
        return code
