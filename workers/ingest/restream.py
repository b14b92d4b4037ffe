"""Restream: a publish's source, unchanged, to each of the channel's destinations.

Each destination gets its own FFmpeg (`-c copy -f flv <url>/<key>`: FFmpeg's own RTMP and RTMPS
client, no re-encode) fed FLV through its own bounded buffer, so a destination never touches the
broadcast or another destination:

- The publisher's tags are copied into each buffer without waiting (`Restream.tag` never blocks
  and never raises). A destination whose buffer spans more than `buffer_seconds` of media is not
  keeping up (a slow link, a stalled server): its FFmpeg is killed and it reconnects; the media
  it missed is counted in its status (`dropped_seconds`).
- A (re)connection starts at the next keyframe, after the FLV header, the metadata and the
  sequence headers, so each connection is a stream a service can decode from its start.
- FFmpeg's `-progress` says when bytes reach the server: then the destination is live. An FFmpeg
  that exits (refused, dropped, timed out: `-rw_timeout`) is retried with a doubling backoff;
  after `give_up_attempts` attempts in a row that never went live, the destination has failed,
  with FFmpeg's last error as the reason.
- A server whose name resolves to a private address is refused (unless allowed, locally): a
  streamer must not make the worker reach the VPC or the metadata service.
- The destinations are read again every `refresh_seconds` while live: one added or enabled
  starts at the next keyframe, one removed or disabled ends as at the publish's end, one whose
  server or key changed does both; the others go on untouched.
"""

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from letslive.models.restream import DestinationState, DestinationStatus, ForwardTarget
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.flv import TagType, encode_tag, file_header, metadata_body

logger = logging.getLogger(__name__)

RTMP_DEFAULT_PORT: Final = 1935
RTMPS_DEFAULT_PORT: Final = 443
# A write to the destination blocked this long (or a connect that long) ends FFmpeg (µs).
RW_TIMEOUT_US: Final = 10_000_000
REASON_MAX: Final = 300
# Until the destinations are read (just after the broadcast went live), the source is kept from
# its first keyframe, so they get it from there; but no more than this much, and from a keyframe
# no older than half the buffer (what a destination may lag), so they start within that bound.
KEPT_MAX_BYTES: Final = 16 * 1024 * 1024
STDERR_LINES: Final = 8
# A destination that ends (the publish's end, or removed while live) may send what it has this long.
END_GRACE_SECONDS: Final = 6.0


@dataclass(frozen=True, slots=True)
class RestreamTuning:
    buffer_seconds: float = 4.0
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    give_up_attempts: int = 6
    allow_private_hosts: bool = False
    # RTMPS: the server's certificate is checked against the system's CAs (FFmpeg checks none by
    # default, and the stream key travels in that connection). Off only for self-signed test servers.
    verify_tls: bool = True
    ffmpeg: str = "ffmpeg"
    refresh_seconds: float = 10.0


def forward_args(ffmpeg: str, publish_url: str, *, verify_tls: bool = True) -> list[str]:
    """FLV on stdin to the destination, copied; progress on stdout once a second."""
    tls = ["-tls_verify", "1"] if verify_tls and publish_url.lower().startswith("rtmps:") else []
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-progress",
        "pipe:1",
        "-stats_period",
        "1",
        "-f",
        "flv",
        "-probesize",
        "65536",
        "-analyzeduration",
        "0",
        "-i",
        "pipe:0",
        "-map",
        "0",
        "-c",
        "copy",
        "-rw_timeout",
        str(RW_TIMEOUT_US),
        *tls,
        "-flvflags",
        "no_duration_filesize",
        "-f",
        "flv",
        publish_url,
    ]


@dataclass(frozen=True, slots=True)
class _Chunk:
    timestamp_ms: int
    data: bytes


class Forwarder:
    """One destination for one publish: connect, forward, reconnect, or give up."""

    def __init__(self, target: ForwardTarget, source: "Restream", tuning: RestreamTuning) -> None:
        self.target = target  # its name may change while it runs; its server and key may not
        self._source = source
        self._tuning = tuning
        self.state: DestinationState = "connecting"
        self.reason: str | None = None
        self.attempts = 0
        self._failures = 0  # attempts in a row that never went live
        self._retry_at: float | None = None
        self._buffer: deque[_Chunk] = deque()
        self._accepting = False  # this connection has had its keyframe: tags go to the buffer
        self._dropping_since_ms: int | None = None
        self.dropped_seconds = 0.0
        self._overflow: str | None = None
        self._overflowed = asyncio.Event()  # the feeder may be stuck in a write: it cannot notice
        self._wake = asyncio.Event()
        self._closing = False
        self._sent: tuple[float, int] | None = None  # (monotonic, total_size) at the last progress
        self.bitrate_kbps: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"restream {self.target.id}")

    # --- the source's side (never blocks) ---------------------------------------------------
    def offer(self, timestamp_ms: int, data: bytes, keyframe: bool) -> None:
        if self.state not in ("connecting", "live") or self._overflow is not None:
            self._dropping(timestamp_ms)
            return
        if not self._accepting:
            if not keyframe:
                self._dropping(timestamp_ms)
                return
            self._accepting = True
            self._dropped_until(timestamp_ms)
            for prefix in self._source.stream_start(timestamp_ms):
                self._buffer.append(_Chunk(timestamp_ms, prefix))
        self._buffer.append(_Chunk(timestamp_ms, data))
        span = (timestamp_ms - self._buffer[0].timestamp_ms) / 1000
        if span > self._tuning.buffer_seconds:
            self._overflow = f"fell {span:.0f} s behind: the destination takes the stream slower than it comes"
            self._overflowed.set()
            self._dropping(self._buffer[0].timestamp_ms)
            self._buffer.clear()
        self._wake.set()

    def _dropping(self, timestamp_ms: int) -> None:
        if self._dropping_since_ms is None and self.attempts:
            self._dropping_since_ms = timestamp_ms

    def _dropped_until(self, timestamp_ms: int) -> None:
        if self._dropping_since_ms is not None:
            self.dropped_seconds += max(0, timestamp_ms - self._dropping_since_ms) / 1000
            self._dropping_since_ms = None

    def status(self) -> DestinationStatus:
        retry_in = None
        if self.state == "retrying" and self._retry_at is not None:
            retry_in = round(max(0.0, self._retry_at - time.monotonic()), 1)
        return DestinationStatus(
            id=self.target.id,
            name=self.target.name,
            state=self.state,
            reason=self.reason,
            attempts=self.attempts,
            retry_in_seconds=retry_in,
            bitrate_kbps=self.bitrate_kbps if self.state == "live" else None,
            dropped_seconds=round(self.dropped_seconds, 1),
        )

    async def close(self, grace_seconds: float) -> None:
        """End of the publish: let FFmpeg send what it has and unpublish, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    # --- the connection ----------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closing:
            refusal = await self._check_host()
            if refusal is not None:
                self._set("failed", refusal)
                return
            self.attempts += 1
            self._set("connecting", self.reason)
            went_live, reason = await self._connect_once()
            if self._closing:
                return
            self._failures = 0 if went_live else self._failures + 1
            if self._failures >= self._tuning.give_up_attempts:
                self._set("failed", f"{reason} (gave up after {self._failures} attempts)")
                logger.warning("restream destination failed", extra=self._fields(reason))
                return
            delay = min(
                self._tuning.backoff_max_seconds,
                self._tuning.backoff_seconds * 2.0 ** max(0, self._failures - 1),
            )
            self._retry_at = time.monotonic() + delay
            self._set("retrying", reason)
            logger.info("restream destination retrying", extra={**self._fields(reason), "retry_in": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed(), delay)

    async def _closed(self) -> None:
        while not self._closing:
            self._wake.clear()
            await self._wake.wait()

    async def _connect_once(self) -> tuple[bool, str]:
        """One FFmpeg run: whether it went live, and why it ended. It starts with what the
        buffer holds (from a keyframe on) and leaves it empty."""
        self._sent = None
        went_live = False
        stderr: deque[str] = deque(maxlen=STDERR_LINES)
        try:
            process = await asyncio.create_subprocess_exec(
                *forward_args(self._tuning.ffmpeg, self.target.publish_url, verify_tls=self._tuning.verify_tls),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._reset()
            return False, f"could not start ffmpeg: {exc}"
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None

        async def progress(stream: asyncio.StreamReader) -> None:
            nonlocal went_live
            async for raw in stream:
                key, _, value = raw.decode(errors="replace").strip().partition("=")
                if key == "total_size" and value.isdigit() and int(value) > 0:
                    self._measure(int(value))
                    if self.state == "connecting":
                        went_live = True
                        self._failures = 0
                        self._set("live", None)
                        logger.info("restream destination live", extra=self._fields(None))

        async def errors(stream: asyncio.StreamReader) -> None:
            async for raw in stream:
                line = raw.decode(errors="replace").strip()
                if line:
                    stderr.append(line)

        readers = [asyncio.create_task(progress(process.stdout)), asyncio.create_task(errors(process.stderr))]
        feeder = asyncio.create_task(self._feed(process.stdin))
        exited = asyncio.create_task(process.wait())
        overflowed = asyncio.create_task(self._overflowed.wait())
        try:
            # Until FFmpeg exits, the destination falls behind, or FFmpeg stops reading. After
            # the publish ends, the feeder sends EOF and FFmpeg exits.
            await asyncio.wait({feeder, exited, overflowed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            feeder.cancel()
            overflowed.cancel()
            if process.returncode is None:
                process.kill()
            await asyncio.gather(feeder, exited, overflowed, *readers, return_exceptions=True)
            self.bitrate_kbps = None
            reason = self._overflow or _reason(list(stderr), process.returncode)
            self._reset()
        return went_live, reason

    def _reset(self) -> None:
        """Between connections: what was not sent is dropped, and the next one waits for a keyframe."""
        if self._buffer:
            self._dropping(self._buffer[0].timestamp_ms)
        self._buffer.clear()
        self._accepting = False
        self._overflow = None
        self._overflowed.clear()

    async def _feed(self, stdin: asyncio.StreamWriter) -> None:
        """Buffer → FFmpeg's stdin until the buffer overflows (the destination is too slow),
        FFmpeg stops reading, or the publish ends (EOF, after the buffer)."""
        try:
            while True:
                if self._overflow is not None:
                    return
                if self._buffer:
                    data = b"".join(chunk.data for chunk in self._buffer)
                    self._buffer.clear()
                    stdin.write(data)
                    await stdin.drain()
                    continue
                if self._closing:
                    stdin.close()
                    await stdin.wait_closed()
                    await asyncio.Event().wait()  # FFmpeg's exit ends this run
                self._wake.clear()
                await self._wake.wait()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _measure(self, total_size: int) -> None:
        now = time.monotonic()
        if self._sent is not None and now > self._sent[0]:
            self.bitrate_kbps = round((total_size - self._sent[1]) * 8 / 1000 / (now - self._sent[0]), 1)
        self._sent = (now, total_size)

    async def _check_host(self) -> str | None:
        if self._tuning.allow_private_hosts:
            return None
        parts = urlsplit(self.target.url)
        host = parts.hostname or ""
        default = RTMPS_DEFAULT_PORT if parts.scheme.lower() == "rtmps" else RTMP_DEFAULT_PORT
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or default)
        except OSError:
            return None  # unresolvable now: FFmpeg's own attempt reports it, and it is retried
        for info in infos:
            if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global:
                return f"{host} resolves to a private address; only public servers can be restreamed to"
        return None

    def _set(self, state: DestinationState, reason: str | None) -> None:
        self.state = state
        self.reason = reason[:REASON_MAX] if reason else None
        if state != "retrying":
            self._retry_at = None

    def _fields(self, reason: str | None) -> dict[str, object]:
        return {
            "destination": self.target.id,
            "destination_name": self.target.name,
            "host": self.target.host,
            "reason": reason,
        }


def _reason(stderr: list[str], code: int | None) -> str:
    """FFmpeg's last words, without the URL (which carries the key); a certificate refused says so."""
    certificate = next((line for line in stderr if "certificate" in line.lower()), None)
    if certificate is not None:
        return certificate.split("] ", 1)[-1]
    for line in reversed(stderr):
        text = line.rsplit(": ", 1)[-1] if "://" in line else line
        if text and "://" not in text:
            return text
    return f"the connection ended (ffmpeg exited with {code})"


class Restream:
    """A publish's forwarding to its destinations (none until `start`)."""

    def __init__(self, *, audio: bool, video: bool, tuning: RestreamTuning) -> None:
        self._audio = audio
        self._video = video
        self._tuning = tuning
        self._metadata: dict[str, AmfValue] = {}
        self._headers: dict[TagType, bytes] = {}  # the latest sequence header body of each kind
        self.forwarders: list[Forwarder] = []
        self._ending: set[asyncio.Task[None]] = set()  # forwarders removed while live, closing
        self._closed = False
        self._kept: list[tuple[int, bytes, bool]] = []  # from a start point, while none forwards
        self._kept_bytes = 0

    def update(self, targets: list[ForwardTarget]) -> None:
        """Forward to `targets` from now on. A new one starts from the latest start point kept
        (none forwarding yet) or at the next keyframe; one gone, or whose server or key changed,
        ends as at the publish's end (a changed one starts again); the others go on."""
        if self._closed:
            return
        running = {forwarder.target.id: forwarder for forwarder in self.forwarders}
        forwarders, started = [], []
        for target in targets:
            forwarder = running.get(target.id)
            if forwarder is not None and (forwarder.target.url, forwarder.target.key) == (target.url, target.key):
                del running[target.id]
                forwarder.target = target
            else:
                forwarder = Forwarder(target, self, self._tuning)
                started.append(forwarder)
            forwarders.append(forwarder)
        for gone in running.values():
            task = asyncio.create_task(gone.close(END_GRACE_SECONDS), name=f"restream end {gone.target.id}")
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)
        self.forwarders = forwarders
        for forwarder in started:
            forwarder.start()
            for timestamp_ms, data, starts in self._kept:
                forwarder.offer(timestamp_ms, data, starts)
        if forwarders:
            self._kept, self._kept_bytes = [], 0

    def metadata(self, metadata: Mapping[str, AmfValue]) -> None:
        self._metadata = dict(metadata)

    def tag(self, tag_type: TagType, timestamp_ms: int, body: bytes, *, keyframe: bool, header: bool) -> None:
        """One source tag for every destination. A video keyframe (any tag when there is no
        video) is where a destination may start."""
        if header:
            self._headers[tag_type] = body
        if self._closed:
            return
        data = encode_tag(tag_type, timestamp_ms, body)
        starts = keyframe or (not self._video and not header)
        if not self.forwarders:
            self._keep(timestamp_ms, data, starts)
        for forwarder in self.forwarders:
            forwarder.offer(timestamp_ms, data, starts)

    def _keep(self, timestamp_ms: int, data: bytes, starts: bool) -> None:
        kept = self._kept
        if starts and kept and (timestamp_ms - kept[0][0]) / 1000 > self._tuning.buffer_seconds / 2:
            kept.clear()
            self._kept_bytes = 0
        if not kept and not starts:
            return
        kept.append((timestamp_ms, data, starts))
        self._kept_bytes += len(data)
        if self._kept_bytes > KEPT_MAX_BYTES:
            kept.clear()
            self._kept_bytes = 0

    def stream_start(self, timestamp_ms: int) -> list[bytes]:
        """What a new connection is sent before its first keyframe."""
        prefix = [file_header(audio=self._audio, video=self._video)]
        if self._metadata:
            prefix.append(encode_tag(TagType.SCRIPT_DATA, 0, metadata_body(self._metadata)))
        prefix += [encode_tag(kind, timestamp_ms, body) for kind, body in self._headers.items()]
        return prefix

    def statuses(self) -> list[DestinationStatus]:
        return [forwarder.status() for forwarder in self.forwarders]

    async def close(self, grace_seconds: float = END_GRACE_SECONDS) -> None:
        self._closed = True
        await asyncio.gather(*(forwarder.close(grace_seconds) for forwarder in self.forwarders), *self._ending)


async def follow_targets(
    restream: Restream,
    targets: Callable[[], Awaitable[list[ForwardTarget] | None]],
    fields: Mapping[str, object],
    refresh_seconds: float,
) -> None:
    """Forward once the channel's destinations are read (off the event loop: the broadcast never
    waits for them), then follow the streamer's changes until cancelled. A read that fails
    (None) leaves the forwarding as it is."""
    current: list[ForwardTarget] | None = None
    while True:
        loaded = await targets()
        if loaded is not None and loaded != current:
            if loaded or current:
                logger.info("restreaming", extra={**fields, "destinations": [t.id for t in loaded]})
            restream.update(loaded)
            current = loaded
        await asyncio.sleep(refresh_seconds)
