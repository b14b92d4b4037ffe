"""Mirrors one broadcast's HLS output into the media store, in an order players can rely on.

FFmpeg writes segments and lists them in its playlists; the uploader owns them from there:
- `discover()` spools what FFmpeg listed (a file read, never a storage call, run every 100 ms
  by the broadcast), so a stalled upload cannot let a segment leave FFmpeg's listing unseen.
- `sync()` stores the spool in order, per rung: segments (immutable for a year), then the live
  playlist that names them (`max-age=1`), so a player never fetches a playlist naming a segment
  the origin lacks; the master once every rung has a segment. A segment is deleted locally only
  once stored. A pass raises nothing: storage errors of any kind are retried with backoff, and
  the spool waits on disk, every part's segments in order (a reconnect during an outage too).
- `DiskBudget` bounds what all broadcasts keep spooled; over it the oldest unstored segment is
  dropped and marked `#EXT-X-GAP` in the playlists, with a log line and a metric.
- `finalize()` writes the VOD from every stored segment, once the spool is empty (or storage
  stayed down past its deadline).

Segments of every part of the broadcast (OBS reconnects start a new FFmpeg part) are kept in
order with a discontinuity at each part boundary.

Metrics, once per pass that stored segments: SegmentsUploaded (how many) and SegmentUploadLatency
(one value per segment, from FFmpeg closing the file to the object being written); UploadFailures
for every object whose retries within a pass ran out; SegmentsDropped for media lost.
"""

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from letslive.constants import REWIND_SECONDS_DEFAULT, IngestMetric
from letslive.errors import DependencyUnavailable, InvalidInput
from letslive.media.ladder import PlannedRung
from letslive.media.playlists import (
    Segment,
    live_playlist,
    master_playlist,
    open_recording,
    parse_media_playlist,
    recording_chunk,
    sealed_chunks,
    vod_playlist,
)
from letslive.services.recordings import (
    LIVE_MASTER,
    PLAYLIST_TYPE,
    RECORDING_CHUNK_SEGMENTS,
    THUMBNAIL,
    VOD_MASTER,
    VOD_PLAYLIST_CACHE,
    VOD_PREFIX,
    broadcast_prefix,
    open_recording_name,
    recording_chunk_name,
)
from letslive.services.storage import MediaStorage
from workers.ingest.metrics import MetricsEmitter, NoMetrics

logger = logging.getLogger(__name__)

SEGMENT_CACHE = "public, max-age=31536000, immutable"
# CloudFront keeps a live playlist 1 s (`s-maxage`); browsers revalidate every time (a cheap
# 304 while it is unchanged), or a player polling for the next segment reads its own stale copy.
LIVE_PLAYLIST_CACHE = "public, max-age=0, s-maxage=1"
MASTER_CACHE = "public, max-age=60"
# The open recording changes every few segments; a full chunk of it never changes.
EVENT_CACHE = "public, max-age=0, s-maxage=5"
CHUNK_CACHE = SEGMENT_CACHE
THUMBNAIL_CACHE = "public, max-age=15"
SEGMENT_TYPE = "video/mp2t"

# Segments of a backlog uploaded at once: catching up after an outage takes a fraction of it.
UPLOAD_CONCURRENCY = 4

Thumbnailer = Callable[[bytes], Awaitable[bytes | None]]  # a segment's bytes -> a JPEG


@dataclass
class Spooled:
    """A segment FFmpeg listed, waiting on disk until it is stored (or dropped: `gap`)."""

    segment: Segment
    path: Path
    size: int
    listed_at: float  # monotonic
    part: int
    uploading: bool = False  # a put is under way: not to be dropped


@dataclass
class Rendition:
    rung: PlannedRung
    stored: list[Segment] = field(default_factory=list)  # every segment stored (or lost: a gap), all parts
    spool: list[Spooled] = field(default_factory=list)  # listed, not stored yet, any part, in order
    listed: dict[int, Segment] = field(default_factory=dict)  # this part's, as FFmpeg listed them
    playlist_stamp: tuple[int, int, int] | None = None  # FFmpeg's playlist (inode, mtime, size) when last read
    # The next segment listed starts a part after another: a discontinuity.
    discontinuity_next: bool = False
    recorded: int = 0  # how many of `stored` the stored recording holds
    chunks: int = 0  # the recording's full chunks stored (by this worker: a resumed one writes them again)
    # This part's correction of FFmpeg's program date-times (`HlsUploader._restamp`).
    clock_offset: timedelta | None = None

    @property
    def name(self) -> str:
        return self.rung.name


@dataclass(frozen=True)
class VodOutput:
    playback_key: str
    duration_seconds: float
    thumbnail_key: str | None
    rungs: list[PlannedRung]
    gaps: int  # segments of the top rung that were lost (marked `#EXT-X-GAP`)


@dataclass
class RetryPolicy:
    """Backoff between attempts of one object within a pass, and between failed passes."""

    attempts: int = 4
    base_seconds: float = 0.25
    max_seconds: float = 4.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (full jitter on the upper half)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, failures - 1))
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        return ceiling * jitter


class DiskBudget:
    """The bytes every broadcast of the worker may keep spooled (listed by FFmpeg, not stored).

    Over the budget, the oldest spooled segment of the worker is dropped in every rung of its
    broadcast: the VOD and live playlists mark it `#EXT-X-GAP`, a log line and the
    SegmentsDropped metric say so. A segment being uploaded is never dropped.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._uploaders: set[HlsUploader] = set()

    def join(self, uploader: "HlsUploader") -> None:
        self._uploaders.add(uploader)

    def leave(self, uploader: "HlsUploader") -> None:
        self._uploaders.discard(uploader)

    @property
    def spooled_bytes(self) -> int:
        return sum(uploader.spooled_bytes for uploader in self._uploaders)

    def enforce(self) -> int:
        """Drop the oldest spooled media until within the budget; returns segments dropped."""
        dropped = 0
        while self.spooled_bytes > self.limit_bytes:
            oldest = [(u.oldest_droppable, u) for u in self._uploaders if u.oldest_droppable is not None]
            if not oldest:
                break
            _, uploader = min(oldest, key=lambda pair: pair[0])
            count = uploader.drop_oldest()
            if count == 0:
                break
            dropped += count
        return dropped


class HlsUploader:
    def __init__(
        self,
        storage: MediaStorage,
        broadcast_id: str,
        plan: Sequence[PlannedRung],
        *,
        window_segments: int = 6,
        rewind_seconds: float = REWIND_SECONDS_DEFAULT,
        chunk_segments: int = RECORDING_CHUNK_SEGMENTS,
        thumbnailer: Thumbnailer | None = None,
        thumbnail_seconds: float = 15.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: MetricsEmitter | None = None,
        budget: DiskBudget | None = None,
    ) -> None:
        self.storage = storage
        self.prefix = broadcast_prefix(broadcast_id)
        self.renditions = [Rendition(rung) for rung in plan]
        self.window = window_segments
        self.rewind_seconds = rewind_seconds
        self.chunk_segments = chunk_segments
        self.retry = retry or RetryPolicy()
        self._thumbnailer = thumbnailer
        self._thumbnail_seconds = thumbnail_seconds
        self._last_thumbnail: float | None = None
        self._thumbnailing: asyncio.Task[None] | None = None
        self._clock = clock
        self._metrics: MetricsEmitter = metrics or NoMetrics()
        self._broadcast_id = broadcast_id
        self._latencies_ms: list[float] = []  # this pass's stored segments
        self._output_dir: Path | None = None
        self._part = 0
        self._part_first_sequence = 0
        self._part_first_frame_at: float | None = None
        self._master_stored = False
        self._budget = budget
        if budget is not None:
            budget.join(self)
        self.thumbnail_key: str | None = None
        self.last_segment_at: float | None = None
        self.failures = 0  # consecutive passes that failed
        self.dropped = 0  # segment files lost (every rung), marked as gaps
        # One pass at a time: the periodic pass and a publisher's end both sync, and two passes
        # over the same spool would store a segment twice.
        self._sync_lock = asyncio.Lock()
        self._dropped_names: set[str] = set()  # segments a later part re-makes (`drop_final_segments`)
        self.spooled = asyncio.Event()  # set when `discover` spools something: a pass is due
        # False once another worker carries the broadcast on: its playlists are that worker's.
        self.owns_playlists = True

    # --- parts ---------------------------------------------------------------------------------
    def start_part(self, output_dir: Path, first_frame_at: float | None = None) -> int:
        """A new FFmpeg run writes into `output_dir`; returns the sequence number it must start at
        so segment names never repeat within the broadcast (the previous parts' segments still
        spooled keep theirs and are stored in order). `first_frame_at` (epoch seconds) is when
        the part's first media reached the server: its media time 0 in wall-clock time."""
        self.discover()  # what the previous part listed last is spooled before its listing is forgotten
        self._output_dir = output_dir
        self._part += 1
        self._dropped_names.clear()  # names of the previous part's directory; this part may reuse them
        for rendition in self.renditions:
            rendition.listed.clear()
            rendition.playlist_stamp = None
            rendition.clock_offset = None
            rendition.discontinuity_next = rendition.discontinuity_next or bool(rendition.stored or rendition.spool)
        self._part_first_sequence = self.next_sequence
        self._part_first_frame_at = first_frame_at
        return self._part_first_sequence

    @property
    def plan(self) -> list[PlannedRung]:
        return [rendition.rung for rendition in self.renditions]

    def replan(self, plan: Sequence[PlannedRung]) -> None:
        """The same rungs made differently from the next part on (the top rung copied, then
        re-encoded): the master playlist is written again with their CODECS."""
        if [rung.name for rung in plan] != [r.name for r in self.renditions]:
            raise InvalidInput("a broadcast's rungs cannot change names")
        for rendition, rung in zip(self.renditions, plan, strict=True):
            rendition.rung = rung
        self._master_stored = False

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No sync pass runs inside: a part can be ended and cut without a pass storing its end."""
        async with self._sync_lock:
            yield

    def drop_final_segments(self) -> float | None:
        """Forget the current part's last segment in every rung (its FFmpeg has exited; the next
        part re-makes that media) and delete the files: returns where it started, in seconds from
        the part's first segment, or None when the rungs do not end on a common unstored segment.
        Call it inside `paused()`."""
        self.discover()
        finals = [max(r.listed) if r.listed else None for r in self.renditions]
        if None in finals or len(set(finals)) != 1:
            return None
        final = finals[0]
        assert final is not None
        heads = [r.spool[-1] if r.spool else None for r in self.renditions]
        if any(h is None or h.part != self._part or h.segment.sequence != final for h in heads):
            return None  # stored already (or lost): it stays
        starts = set()
        for rendition in self.renditions:
            starts.add(round(sum(s.duration for q, s in rendition.listed.items() if q < final), 3))
            spooled = rendition.spool.pop()
            del rendition.listed[final]
            self._dropped_names.add(spooled.segment.uri)
            spooled.path.unlink(missing_ok=True)
            if spooled.segment.discontinuity:
                rendition.discontinuity_next = True
        return min(starts)

    @property
    def next_sequence(self) -> int:
        used = [_sequence(segment.uri) for r in self.renditions for segment in r.stored]
        used += [_sequence(spooled.segment.uri) for r in self.renditions for spooled in r.spool]
        return max(used, default=-1) + 1

    def restore(self, recorded: dict[str, list[Segment]]) -> None:
        """Continue a broadcast another worker carried (it died, or its publisher reconnected
        here): each rung's segments as the recording holds them, so numbering, the live window
        and the VOD go on from there (the next part starts with a discontinuity)."""
        for rendition in self.renditions:
            rendition.stored = list(recorded.get(rendition.name, ()))
            rendition.recorded = 0  # rewritten with the next segment: it is the authority now
            rendition.chunks = 0  # and its chunks, which may not all have been stored

    # --- the spool -----------------------------------------------------------------------------
    def discover(self) -> int:
        """Spool what FFmpeg listed since the last look (no storage call: it never waits on
        S3, so a stalled upload cannot make a segment leave FFmpeg's listing unseen). Returns
        how many segments were spooled; enforces the disk budget."""
        if self._output_dir is None:
            return 0
        found = sum(self._read_playlist(rendition, self._output_dir) for rendition in self.renditions)
        if found:
            self.spooled.set()
            if self._budget is not None:
                self._budget.enforce()
        return found

    @property
    def spooled_bytes(self) -> int:
        return sum(s.size for r in self.renditions for s in r.spool if not s.segment.gap)

    @property
    def unstored(self) -> int:
        """Segments listed and not stored yet (gaps excluded), every rung."""
        return sum(1 for r in self.renditions for s in r.spool if not s.segment.gap)

    @property
    def oldest_droppable(self) -> float | None:
        listed = [s.listed_at for r in self.renditions for s in r.spool if not (s.segment.gap or s.uploading)]
        return min(listed, default=None)

    def drop_oldest(self) -> int:
        """Drop the oldest droppable spooled segment in every rung that spools it (by part and
        sequence): the file goes, a gap stays in its place. Returns how many were dropped."""
        candidates = [
            (s.listed_at, s.part, s.segment.sequence)
            for r in self.renditions
            for s in r.spool
            if not (s.segment.gap or s.uploading)
        ]
        if not candidates:
            return 0
        _, part, sequence = min(candidates)
        dropped: list[str] = []
        for rendition in self.renditions:
            for index, spooled in enumerate(rendition.spool):
                if spooled.part == part and spooled.segment.sequence == sequence and not spooled.uploading:
                    spooled.path.unlink(missing_ok=True)
                    rendition.spool[index] = replace(spooled, segment=replace(spooled.segment, gap=True))
                    dropped.append(spooled.segment.uri)
        self.dropped += len(dropped)
        logger.error(
            "disk budget exhausted: dropped unstored media, marked as a gap in the VOD",
            extra={"broadcast_id": self._broadcast_id, "segments": dropped},
        )
        self._metrics.emit({IngestMetric.SEGMENTS_DROPPED: len(dropped)}, {"broadcast_id": self._broadcast_id})
        return len(dropped)

    def _read_playlist(self, rendition: Rendition, directory: Path) -> int:
        playlist_file = directory / f"{rendition.name}.m3u8"
        try:
            stat = playlist_file.stat()
            # FFmpeg replaces its playlists by renaming a new file: a new inode every time.
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if stamp == rendition.playlist_stamp:
                return 0
            playlist = parse_media_playlist(playlist_file.read_text())
        except (FileNotFoundError, InvalidInput):
            return 0  # not written yet, or caught mid-rename: the next look reads it
        rendition.playlist_stamp = stamp
        found = 0
        for segment in playlist.segments:
            if segment.sequence in rendition.listed or segment.uri in self._dropped_names:
                continue
            if segment.sequence < self._part_first_sequence:
                continue  # not this part's (FFmpeg numbers from the part's start)
            last = max(rendition.listed, default=self._part_first_sequence - 1)
            if segment.sequence > last + 1 and last >= self._part_first_sequence - 1:
                self._lost_from_listing(rendition, directory, range(last + 1, segment.sequence), segment)
            restamped = self._restamp(rendition, segment)
            if rendition.discontinuity_next:
                restamped = replace(restamped, discontinuity=True)
                rendition.discontinuity_next = False
            rendition.listed[segment.sequence] = restamped
            path = directory / segment.uri
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            rendition.spool.append(Spooled(restamped, path, size, self._clock(), self._part))
            found += 1
        return found

    def _lost_from_listing(self, rendition: Rendition, directory: Path, sequences: range, after: Segment) -> None:
        """Segments that left FFmpeg's listing before they were seen (the event loop was stalled
        longer than the listing covers): kept as gaps of the target length, never silently."""
        for sequence in sequences:
            name = after.uri.replace(f"_{after.sequence:06d}.", f"_{sequence:06d}.")
            gap = Segment(name, after.duration, sequence, None, rendition.discontinuity_next, gap=True)
            rendition.discontinuity_next = False
            rendition.listed[sequence] = gap
            rendition.spool.append(Spooled(gap, directory / name, 0, self._clock(), self._part))
            (directory / name).unlink(missing_ok=True)
        self.dropped += len(sequences)
        logger.error(
            "segments left FFmpeg's listing unseen; marked as gaps",
            extra={"broadcast_id": self._broadcast_id, "rung": rendition.name, "segments": len(sequences)},
        )
        self._metrics.emit({IngestMetric.SEGMENTS_DROPPED: len(sequences)}, {"broadcast_id": self._broadcast_id})

    def _restamp(self, rendition: Rendition, segment: Segment) -> Segment:
        """The segment with the program date-time players measure latency against: when its first
        frame reached the server. FFmpeg stamps a part's first segment with its own start-up
        time, 0.3-0.6 s after that (process start, probing), and each later one by adding the
        durations, so one offset per part corrects them all. Left as FFmpeg's if the part's
        first segment went unseen."""
        stamp = segment.program_date_time
        if stamp is None or self._part_first_frame_at is None:
            return segment
        if rendition.clock_offset is None:
            if segment.sequence != self._part_first_sequence:
                return segment
            rendition.clock_offset = datetime.fromtimestamp(self._part_first_frame_at, UTC) - stamp
        return replace(segment, program_date_time=stamp + rendition.clock_offset)

    # --- syncing -------------------------------------------------------------------------------
    async def sync(self) -> int:
        """One pass: spool what FFmpeg listed, store what is spooled; returns how many segments
        were stored. It raises nothing: a failure is logged and counted (`failures`), and what
        is spooled stays on disk for the next pass."""
        async with self._sync_lock:
            self.discover()
            try:
                stored = await self._store_spooled()
            except Exception as exc:  # a pass must never take the broadcast's loop down
                self.failures += 1
                level = logging.WARNING if isinstance(exc, DependencyUnavailable) else logging.ERROR
                logger.log(
                    level,
                    "upload pass failed, will retry: %s",
                    exc,
                    exc_info=not isinstance(exc, DependencyUnavailable),
                    extra={"broadcast_id": self._broadcast_id, "unstored": self.unstored, "failures": self.failures},
                )
                return 0
            if self.failures:
                logger.info(
                    "storage is back: upload passes succeed again",
                    extra={"broadcast_id": self._broadcast_id, "failed_passes": self.failures},
                )
            self.failures = 0
            return stored

    async def _store_spooled(self) -> int:
        stored = 0
        try:
            for rendition in self.renditions:
                stored += await self._store_rendition(rendition)
            if self.owns_playlists and not self._master_stored and all(r.stored for r in self.renditions):
                text = master_playlist(self.plan, uri=lambda rung: f"{rung.name}.m3u8")
                await self._put(LIVE_MASTER, text.encode(), PLAYLIST_TYPE, MASTER_CACHE)
                self._master_stored = True
        finally:
            # What was stored before a failure counts too.
            latencies, self._latencies_ms = self._latencies_ms, []
            if latencies:
                self._metrics.emit(
                    {IngestMetric.SEGMENTS_UPLOADED: len(latencies), IngestMetric.SEGMENT_UPLOAD_LATENCY: latencies},
                    {"broadcast_id": self._broadcast_id},
                )
        return stored

    async def _store_rendition(self, rendition: Rendition) -> int:
        """Store the rung's spool in order (a backlog a few at a time), then its live playlist."""
        count = 0
        changed = False
        last_data: bytes | None = None
        while rendition.spool:
            batch = list(itertools.takewhile(lambda s: not s.segment.gap, rendition.spool[:UPLOAD_CONCURRENCY]))
            if not batch:  # a gap at the head: nothing to upload, it takes its place in the VOD
                rendition.stored.append(rendition.spool.pop(0).segment)
                changed = True
                continue
            for spooled in batch:
                spooled.uploading = True
            try:
                results = await asyncio.gather(*(self._store_segment(s) for s in batch), return_exceptions=True)
            finally:
                for spooled in batch:
                    spooled.uploading = False
            for spooled, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    if changed:
                        await self._put_live_playlist(rendition)
                    raise result
                # In order: a later one stored before an earlier one failed waits for it.
                rendition.spool.remove(spooled)
                rendition.stored.append(spooled.segment)
                spooled.path.unlink(missing_ok=True)
                last_data = result or last_data
                count += 1
                changed = True
                self.last_segment_at = time.time()
        if changed:
            await self._put_live_playlist(rendition)
            # Beside the passes: a thumbnail is an FFmpeg run, which must not hold back the live edge.
            if last_data is not None and rendition is self.renditions[0] and rendition.rung.has_video:
                self._maybe_thumbnail(last_data)
        return count

    async def _store_segment(self, spooled: Spooled) -> bytes:
        try:
            data, closed_at = await asyncio.to_thread(_read_closed_file, spooled.path)
        except FileNotFoundError:
            # Gone from the disk (removed by hand, a disk fault): lost, never retried for ever.
            logger.error("a listed segment's file is gone; marked as a gap", extra={"segment": spooled.segment.uri})
            spooled.segment = replace(spooled.segment, gap=True)
            self.dropped += 1
            self._metrics.emit({IngestMetric.SEGMENTS_DROPPED: 1}, {"broadcast_id": self._broadcast_id})
            return b""
        await self._put(spooled.segment.uri, data, SEGMENT_TYPE, SEGMENT_CACHE)
        self._latencies_ms.append(max(0.0, (time.time() - closed_at) * 1000))
        return data

    async def _put_live_playlist(self, rendition: Rendition) -> None:
        """The live window, after the recording whenever the window would otherwise stop
        overlapping it: the two together always name every stored segment, which is what a
        worker resuming the broadcast, or the sweeper finalizing it, reads."""
        if not rendition.stored or not self.owns_playlists:
            return
        if len(rendition.stored) - rendition.recorded >= max(1, self.window - 1):
            await self._put_recording(rendition)
        text = live_playlist(rendition.stored, self.window)
        await self._put(f"{rendition.name}.m3u8", text.encode(), PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE)

    async def _put_recording(self, rendition: Rendition) -> None:
        """The chunks that filled up since the last time, then the open recording that lists them."""
        stored = rendition.stored
        full = sealed_chunks(len(stored), self.chunk_segments)
        while rendition.chunks < full:
            batch = range(rendition.chunks, min(full, rendition.chunks + UPLOAD_CONCURRENCY))
            await asyncio.gather(
                *(
                    self._put(
                        recording_chunk_name(rendition.name, index),
                        recording_chunk(stored, index, self.chunk_segments).encode(),
                        PLAYLIST_TYPE,
                        CHUNK_CACHE,
                    )
                    for index in batch
                )
            )
            rendition.chunks = batch.stop
        text = open_recording(stored, self.chunk_segments, self.rewind_seconds)
        await self._put(open_recording_name(rendition.name), text.encode(), PLAYLIST_TYPE, EVENT_CACHE)
        rendition.recorded = len(stored)

    def _maybe_thumbnail(self, segment: bytes) -> None:
        now = self._clock()
        if self._thumbnailer is None or (self._thumbnailing is not None and not self._thumbnailing.done()):
            return
        if self._last_thumbnail is not None and now - self._last_thumbnail < self._thumbnail_seconds:
            return
        self._last_thumbnail = now
        self._thumbnailing = asyncio.create_task(self._thumbnail(self._thumbnailer, segment))

    async def _thumbnail(self, thumbnailer: Thumbnailer, segment: bytes) -> None:
        try:
            image = await thumbnailer(segment)
            if image:
                await self._put(THUMBNAIL, image, "image/jpeg", THUMBNAIL_CACHE)
                self.thumbnail_key = f"{self.prefix}/{THUMBNAIL}"
        except DependencyUnavailable as exc:
            logger.warning("thumbnail not stored: %s", exc, extra={"broadcast_id": self._broadcast_id})

    async def thumbnailed(self) -> None:
        """Wait for the thumbnail under way, if any."""
        if self._thumbnailing is not None and not self._thumbnailing.done():
            await asyncio.gather(self._thumbnailing, return_exceptions=True)

    async def _put(self, name: str, body: bytes, content_type: str, cache_control: str) -> None:
        key = f"{self.prefix}/{name}"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await asyncio.to_thread(self.storage.put, key, body, content_type, cache_control)
                return
            except DependencyUnavailable:
                if attempt == self.retry.attempts:
                    self._metrics.emit({IngestMetric.UPLOAD_FAILURES: 1}, {"broadcast_id": self._broadcast_id})
                    raise
                await asyncio.sleep(self.retry.delay(attempt))

    # --- the end --------------------------------------------------------------------------------
    @property
    def duration_seconds(self) -> float:
        return sum(segment.duration for segment in self.renditions[0].stored)

    async def finalize(self, timeout_seconds: float = 600.0) -> VodOutput | None:
        """The VOD: every stored segment per rung with ENDLIST, and a VOD master. None when the
        broadcast never produced a segment, or storage stayed down for `timeout_seconds` (then
        what could not be stored is lost, and logged). Raises nothing."""
        deadline = self._clock() + timeout_seconds
        try:
            await self.thumbnailed()
            if not await self.flush(timeout_seconds):
                logger.error(
                    "storage stayed down: the VOD is written without the media it could not store",
                    extra={"broadcast_id": self._broadcast_id, "unstored": self.unstored},
                )
                self._give_up_spooled()
            if not all(any(not s.gap for s in r.stored) for r in self.renditions):
                return None
            while True:
                try:
                    return await self._write_vod()
                except DependencyUnavailable as exc:
                    if self._clock() >= deadline:
                        logger.error(
                            "storage stayed down: no VOD playlist written: %s",
                            exc,
                            extra={"broadcast_id": self._broadcast_id},
                        )
                        return None
                    self.failures += 1
                    await asyncio.sleep(self.retry.delay(self.failures))
        finally:
            if self._budget is not None:
                self._budget.leave(self)

    async def flush(self, timeout_seconds: float) -> bool:
        """Store everything spooled, retrying storage for up to `timeout_seconds`; True when the
        spool is empty. The part's FFmpeg has exited (nothing new is listed after this)."""
        deadline = self._clock() + timeout_seconds
        await self.sync()
        while self.unstored and self._clock() < deadline:
            await asyncio.sleep(self.retry.delay(self.failures))
            await self.sync()
        return not self.unstored

    def leave(self) -> None:
        """This worker no longer carries the broadcast: its spool no longer counts on the disk."""
        if self._budget is not None:
            self._budget.leave(self)

    def _give_up_spooled(self) -> None:
        for rendition in self.renditions:
            lost = [s for s in rendition.spool if not s.segment.gap]
            for spooled in lost:
                spooled.path.unlink(missing_ok=True)
            rendition.stored += [replace(s.segment, gap=True) for s in rendition.spool]
            rendition.spool.clear()
            self.dropped += len(lost)
            if lost:
                self._metrics.emit({IngestMetric.SEGMENTS_DROPPED: len(lost)}, {"broadcast_id": self._broadcast_id})

    async def _write_vod(self) -> VodOutput:
        for rendition in self.renditions:
            text = vod_playlist(rendition.stored)
            await self._put(f"{VOD_PREFIX}{rendition.name}.m3u8", text.encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
        master = master_playlist(self.plan, uri=lambda rung: f"{VOD_PREFIX}{rung.name}.m3u8")
        await self._put(VOD_MASTER, master.encode(), PLAYLIST_TYPE, VOD_PLAYLIST_CACHE)
        gaps = sum(1 for segment in self.renditions[0].stored if segment.gap)
        return VodOutput(f"{self.prefix}/{VOD_MASTER}", self.duration_seconds, self.thumbnail_key, self.plan, gaps)


def _sequence(uri: str) -> int:
    return int(uri.rsplit("_", 1)[1].split(".")[0])


def _read_closed_file(path: Path) -> tuple[bytes, float]:
    """The file's bytes and when it was last written: FFmpeg lists a segment once it closed it."""
    return path.read_bytes(), path.stat().st_mtime


async def jpeg_thumbnail(segment: bytes, height: int = 360, ffmpeg: str = "ffmpeg") -> bytes | None:
    """The segment's first frame as a JPEG (it starts on a keyframe, so it decodes alone)."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "mpegts", "-i", "pipe:0", "-frames:v", "1",
        "-vf", f"scale=-2:{height}", "-q:v", "5", "-f", "mjpeg", "pipe:1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(segment), 20)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0 or not stdout:
        logger.warning("thumbnail failed: %s", stderr.decode(errors="replace")[-300:])
        return None
    return stdout
