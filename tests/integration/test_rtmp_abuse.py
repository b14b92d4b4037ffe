"""Malformed RTMP against the real server on loopback, from many source addresses (127.0.0.2 on,
so that the per-address cap is not what refuses them), while a real broadcast runs.

The flood (`tests/fixtures/rtmp/client.py`, `malformed_flood`): random and truncated handshakes,
garbage chunks, extreme chunk sizes, oversized and lying message lengths, deep and huge AMF0,
commands out of order, wrong keys, message and chunk stream floods, slowloris and idle clients.
Every one must be closed by the server (none left open, nothing crashing, no memory held
afterwards) while FFmpeg's broadcast goes on: its live playlist keeps advancing during the flood
and its VOD has every segment.

Then what the pre-publish limits need a clock or a listener for: the publish deadline and the
cap on connections waiting to publish.
"""

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from letslive.errors import NotFound
from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from letslive.services.recordings import broadcast_prefix
from letslive.services.storage import media_storage
from letslive.services.vods import vod_service
from tests.fixtures.rtmp.client import CLIENT_CLOSED, RawClient, loopback_sources, malformed_flood, status
from tests.hls_checks import assert_aligned
from tests.integration.conftest import EventBus
from tests.integration.test_ingest_broadcasts import (
    USER,
    X264,
    Ingest,
    broadcast_id,
    ffmpeg_publisher,
    ffmpeg_source,
    settings,
    vod_playlists,
)
from workers.ingest.broadcasts import BroadcastManager
from workers.ingest.rtmp import InMemoryAuthorizer, RtmpLimits, RtmpServer
from workers.ingest.rtmp.amf0 import AmfValue
from workers.ingest.rtmp.messages import UserControlEvent, user_control
from workers.ingest.worker import BroadcastRegistry

needs_ffmpeg = pytest.mark.tools("ffmpeg", "ffprobe")

SOURCES = loopback_sources(64)
SESSIONS = 1200
# Short timeouts so that the slow scripts (slowloris, idle) are over in seconds.
LIMITS = RtmpLimits(handshake_timeout_seconds=1.0, publish_timeout_seconds=2.0)
# A client gives up on the server after this: past every timeout above and the lingering close.
PATIENCE = 6.0
BROADCAST_SECONDS = 16
# The live playlist must gain a segment at least this often (1 s segments) during the flood.
MAX_STALL_SECONDS = 3.0
TIMEOUT = 60.0


@pytest.fixture
def env(accounts: Any, media_bucket: str, event_bus: EventBus, tmp_path: Path) -> Ingest:
    from letslive.services.streams import stream_service

    streams = stream_service()
    return Ingest(streams.create_key(USER).stream_key, streams, event_bus, tmp_path)


class LivePlaylist:
    """Polls the top rung's live playlist in the bucket: when each segment was first listed."""

    def __init__(self, manager: BroadcastManager) -> None:
        self.first_listed: dict[int, float] = {}
        self._task = asyncio.create_task(self._poll(manager))

    def cancel(self) -> None:
        self._task.cancel()

    async def _poll(self, manager: BroadcastManager) -> None:
        while not manager.live:  # noqa: ASYNC110 - the manager has no event for it
            await asyncio.sleep(0.1)
        prefix = broadcast_prefix(next(iter(manager.live.values())).broadcast_id)
        uri = None
        while True:
            with contextlib.suppress(NotFound):
                if uri is None:
                    uri = parse_master_playlist((await self._get(f"{prefix}/master.m3u8")).decode())[0].uri
                playlist = parse_media_playlist((await self._get(f"{prefix}/{uri}")).decode())
                now = time.monotonic()
                for segment in playlist.segments:
                    self.first_listed.setdefault(segment.sequence, now)
            await asyncio.sleep(0.2)

    @staticmethod
    async def _get(path: str) -> bytes:
        return await asyncio.to_thread(media_storage().get, path)

    async def wait_for_segments(self, count: int) -> None:
        while len(self.first_listed) < count:
            if self._task.done():
                self._task.result()  # its exception, if it failed
            await asyncio.sleep(0.1)

    def longest_stall(self, start: float, end: float) -> float:
        """The longest time within [start, end] with no new segment listed."""
        times = sorted(t for t in self.first_listed.values() if start <= t <= end)
        edges = [start, *times, end]
        return max(later - earlier for earlier, later in itertools.pairwise(edges))


@needs_ffmpeg
def test_a_malformed_rtmp_flood_from_many_addresses_leaves_a_live_broadcast_whole(
    env: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workers.ingest.rtmp")
    source = ffmpeg_source(env.media / "good.flv", seconds=BROADCAST_SECONDS, video=(*X264, "-g", "30"), size="640x360")

    async def scenario() -> tuple[int, bytes, Counter[tuple[str, str]], LivePlaylist, float, float]:
        manager = BroadcastManager(settings(env), BroadcastRegistry(), env.streams, vod_service(), media_storage(), 1.0)
        server = RtmpServer(manager, LIMITS)
        await server.start("127.0.0.1", 0)
        live = LivePlaylist(manager)
        try:
            async with asyncio.timeout(TIMEOUT):
                publish = ffmpeg_publisher(source)(f"rtmp://127.0.0.1:{server.port}/live/{env.key}")
                publisher: asyncio.Future[tuple[int, bytes]] = asyncio.ensure_future(publish)
                await live.wait_for_segments(2)
                started = time.monotonic()
                outcomes = await malformed_flood(server.port, SESSIONS, SOURCES, seed=13, patience=PATIENCE)
                ended = time.monotonic()
                assert not publisher.done(), "the flood outlasted the broadcast: make the broadcast longer"

                # The server still serves, and holds nothing for the flood.
                bystander = await RawClient.open(server.port)
                await bystander.handshake()
                assert (await bystander.connect()).name == "_result"
                bystander.close()

                code, stderr = await publisher
                while server.active_connections:  # noqa: ASYNC110 - the server has no event for it
                    await asyncio.sleep(0.1)
                assert server.memory.held == 0
                await asyncio.gather(*(broadcast.finished.wait() for broadcast in manager.live.values()))
        finally:
            live.cancel()
            await server.close()
        return code, stderr, outcomes, live, started, ended

    code, stderr, outcomes, live, started, ended = asyncio.run(scenario())

    # Every malformed session was ended by the server (or hung up itself), none left open.
    assert sum(outcomes.values()) == SESSIONS
    assert {outcome for _, outcome in outcomes} <= {"closed", CLIENT_CLOSED}, outcomes
    assert len({name for name, _ in outcomes}) >= 14  # every kind ran
    messages = Counter(record.getMessage() for record in caplog.records)
    assert messages["rtmp connection refused: too many from this address"] == 0
    assert messages["rtmp connection refused: too many connections waiting to publish"] == 0
    assert messages["rtmp connection failed"] == 0  # an unexpected exception
    assert messages["rtmp limit exceeded, closing"] > SESSIONS / 5
    assert messages["rtmp client did not publish in time, closing"] > 0

    # The broadcast went on: new segments all through the flood, and none missing from its VOD.
    assert code == 0, stderr
    assert live.longest_stall(started, ended) <= MAX_STALL_SECONDS
    playlists = vod_playlists(broadcast_id(env))
    assert_aligned(playlists)
    for playlist in playlists.values():
        assert not any(segment.gap or segment.discontinuity for segment in playlist.segments)
        assert [segment.sequence for segment in playlist.segments] == list(range(len(playlist.segments)))
        assert playlist.duration == pytest.approx(BROADCAST_SECONDS, abs=0.2)


# The publish deadline and the pending-connection cap


class NullSession:
    """An accepted publish that takes whatever it is given."""

    async def on_metadata(self, metadata: dict[str, AmfValue]) -> None:
        pass

    async def on_audio(self, timestamp_ms: int, payload: bytes) -> None:
        pass

    async def on_video(self, timestamp_ms: int, payload: bytes) -> None:
        pass

    async def on_end(self, reason: str) -> None:
        pass


KEY = "live_0123456789abcdef"


@contextlib.asynccontextmanager
async def serving(limits: RtmpLimits) -> Any:
    server = RtmpServer(InMemoryAuthorizer(lambda app, key, client: NullSession(), keys=(KEY,)), limits)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close()


async def open_from(source: str, port: int) -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawClient(reader, writer, timeout=5.0)


def test_a_client_that_never_publishes_is_closed_at_the_publish_deadline() -> None:
    limits = RtmpLimits(publish_timeout_seconds=1.0, idle_timeout_seconds=30.0)

    async def scenario() -> None:
        async with serving(limits) as server:
            publisher = await open_from(SOURCES[0], server.port)
            await publisher.handshake()
            assert status(await publisher.publish(KEY))["code"] == "NetStream.Publish.Start"
            stalling = await open_from(SOURCES[1], server.port)
            started = time.monotonic()
            await stalling.handshake()
            await stalling.connect()
            ping = user_control(UserControlEvent.PING_REQUEST, bytes(4))

            async def keep_pinging() -> None:  # every 0.2 s: never idle, never publishing
                with contextlib.suppress(ConnectionError):
                    while True:
                        await stalling.send(ping)
                        await asyncio.sleep(0.2)

            pinging = asyncio.create_task(keep_pinging())
            try:
                await stalling.closed_by_server()
            finally:
                pinging.cancel()
            assert 0.9 <= time.monotonic() - started < 2.5
            # The publisher, well past the deadline, is served on.
            await publisher.call("FCUnpublish", 6, KEY)
            assert (await publisher.reply("onFCUnpublish")).name == "onFCUnpublish"

    asyncio.run(scenario())


def test_connections_waiting_to_publish_are_capped_across_addresses(caplog: pytest.LogCaptureFixture) -> None:
    limits = RtmpLimits(max_pending_connections=3, max_connections_per_address=4)

    async def scenario() -> None:
        async with serving(limits) as server:
            publisher = await open_from(SOURCES[0], server.port)
            await publisher.handshake()
            await publisher.publish(KEY)  # a publisher does not count
            waiting = [await open_from(source, server.port) for source in SOURCES[1:4]]
            for client in waiting:
                await client.handshake()
            assert server.pending_connections == 3

            refused = await open_from(SOURCES[4], server.port)
            with contextlib.suppress(ConnectionError):
                await refused.send_raw(b"\x03" + bytes(1536))
            assert await refused.closed_by_server() == b""  # not even S0

            waiting[0].close()
            async with asyncio.timeout(5):
                while server.pending_connections == 3:  # noqa: ASYNC110 - the server has no event for it
                    await asyncio.sleep(0.01)
            admitted = await open_from(SOURCES[5], server.port)
            await admitted.handshake()
            assert (await admitted.connect()).name == "_result"

    caplog.set_level(logging.WARNING, logger="workers.ingest.rtmp")
    asyncio.run(scenario())
    refusals = [r for r in caplog.records if r.getMessage().endswith("too many connections waiting to publish")]
    assert len(refusals) == 1
