"""The web app in a real browser, against the whole local platform.

Chromium (Debian's package, driven by Playwright; no browser is downloaded) loads the static
export from the edge, which also serves `/api/*`, `/hls/*` and `/config.json`; the chat goes to
the emulator's WebSocket API. A streamer signs up and creates a key in the dashboard, a real
ffmpeg publishes with it, a second signed-in viewer watches (hls.js: playback, quality switch,
latency), chats, and when the stream ends sees it go offline and replays the VOD with its chat.
Screenshots of the pages land in `.local/screenshots/` (printed at the end; `-s` shows it).
"""

import contextlib
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from websockets.sync.client import connect

from letslive.constants import Service, Table, health_route
from localstack.emulator import REPO_ROOT
from localstack.platform import CHROMIUM, CHROMIUM_ARGS, WEB_ROOT
from tests.e2e.channels import channel_state, fail_clip_download, new_channel
from tests.e2e.conftest import RECORDING_CHUNK_SEGMENTS, LocalPlatform
from tests.e2e.media import make_source, publish, wait_for
from tests.support.nginx_rtmp import NginxRtmp, probe_recording

SCREENSHOTS = REPO_ROOT / ".local" / "screenshots"
PASSWORD = "correct horse battery staple 42"
SOURCE_SECONDS = 45
VIDEO = "[data-testid=player-video]"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (WEB_ROOT / "index.html").is_file():
        pytest.fail(f"the web app is not built ({WEB_ROOT} is missing): run `make web`")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make system` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def warm(platform: LocalPlatform) -> None:
    """Warm Lambda workers before the browser comes: the emulator starts one worker per
    concurrent invocation, and on a busy machine a cold start can exceed the functions' 10 s
    timeout when a page calls five services at once. A few concurrent calls per HTTP service,
    then one chat connection (connect, history, disconnect)."""
    with httpx.Client(base_url=f"{platform.edge_url}/api", timeout=60) as api, ThreadPoolExecutor(3) as pool:
        routes = [health_route(service) for service in Service for _ in range(3)]
        for start in range(0, len(routes), 3):
            list(pool.map(lambda route: api.get(route).status_code, routes[start : start + 3]))
        name = f"warm_{uuid.uuid4().hex[:8]}"
        api.post("/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
    with contextlib.suppress(Exception), connect(f"{platform.websocket_url}?channel={name}", open_timeout=60) as ws:
        ws.send(json.dumps({"action": "history"}))
        ws.recv(timeout=30)


class Tab:
    """One browser context (a fresh profile: its own cookies) with one page."""

    def __init__(self, browser: Browser, platform: LocalPlatform, name: str) -> None:
        self.context = browser.new_context(base_url=platform.edge_url, viewport={"width": 1400, "height": 900})
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.name = name
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_up(self, username: str) -> None:
        page = self.page
        page.goto("/signup/")
        page.get_by_test_id("signup-username").fill(username)
        page.get_by_test_id("signup-email").fill(f"{username}@example.com")
        page.get_by_test_id("signup-password").fill(PASSWORD)
        page.get_by_test_id("signup-submit").click()
        expect(page.get_by_test_id("nav-user")).to_have_text(username, timeout=60_000)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def video(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(
            f"(arg) => {{ const v = document.querySelector('{VIDEO}'); return {expression}; }}", arg
        )

    def wait_video(self, condition: str, arg: Any = None, timeout: float = 30_000) -> None:
        self.page.wait_for_function(
            f"(arg) => {{ const v = document.querySelector('{VIDEO}'); return !!v && ({condition}); }}",
            arg=arg,
            timeout=timeout,
        )

    def close(self) -> None:
        self.context.close()


def plays(tab: Tab, seconds: float) -> None:
    """The player says `playing` and the video's clock moves on by `seconds`."""
    state = tab.page.get_by_test_id("player-state")
    expect(state).to_have_text("playing", timeout=60_000)
    start = tab.video("v.currentTime")
    tab.wait_video("v.currentTime >= arg", start + seconds, timeout=(seconds + 30) * 1000)
    expect(state).not_to_have_text("error")


def switch_quality(tab: Tab) -> None:
    """Pick another rung than the one playing; the player switches (`hls.currentLevel`) and
    the video's frames take that height."""
    select = tab.page.get_by_test_id("quality-select")
    expect(select).not_to_have_attribute("data-level", "-1", timeout=30_000)
    options: list[dict[str, str]] = select.locator("option").evaluate_all(
        "options => options.map(o => ({value: o.value, label: o.textContent}))"
    )
    rungs = {option["label"]: option["value"] for option in options if option["value"] != "-1"}
    assert {"720p", "360p"} <= set(rungs), rungs
    playing = select.get_attribute("data-level")
    label = "360p" if rungs["720p"] == playing else "720p"
    select.select_option(rungs[label])
    expect(select).to_have_attribute("data-level", rungs[label], timeout=30_000)
    expect(select).to_have_attribute("data-height", label.removesuffix("p"))
    tab.wait_video("v.videoHeight === arg", int(label.removesuffix("p")))


def replays_in_sync(tab: Tab, platform: LocalPlatform, message_id: str | None, text: str) -> None:
    """The VOD page's chat replay shows the message when playback reaches the moment it was
    sent (the playing segment's program date-time, against the VOD's start), not before, and
    within a second; `offset_seconds` is the API's (`GET /vods/{id}/chat`)."""
    match = re.search(r"id=(\w+)", tab.page.url)
    assert match is not None, tab.page.url
    assert message_id, "the live chat line carries its message id"
    replay = httpx.get(f"{platform.edge_url}/api/vods/{match.group(1)}/chat", timeout=30)
    assert replay.status_code == 200, replay.text
    (said,) = [item for item in replay.json()["items"] if item["id"] == message_id]
    assert said["text"] == text
    sent = float(said["offset_seconds"])
    section = tab.page.get_by_test_id("chat-replay")
    replayed = section.locator(f'[data-testid=replay-message][data-id="{message_id}"]')
    tab.video("(v.currentTime = arg, true)", max(0.0, sent - 5))
    tab.page.wait_for_function(
        "(sent) => Number(document.querySelector('[data-testid=chat-replay]').dataset.offset) < sent - 2", arg=sent
    )
    expect(replayed).to_have_count(0)
    shown_at = tab.page.wait_for_function(
        """(id) => {
            const replay = document.querySelector('[data-testid=chat-replay]');
            return !!replay.querySelector(`[data-id="${id}"]`) && Number(replay.dataset.offset);
        }""",
        arg=message_id,
        timeout=30_000,
    ).json_value()
    assert sent <= shown_at < sent + 1, (sent, shown_at)
    expect(replayed).to_contain_text(text)


def kept_with_the_vod(platform: LocalPlatform, vod_page: str, channel: str, message_id: str | None) -> None:
    """The chat's event consumer (the deployed Lambda) handled `VodReady`: the message expires
    with the VOD, not after the chat's week."""
    match = re.search(r"id=(\w+)", vod_page)
    assert match is not None, vod_page
    vod = httpx.get(f"{platform.edge_url}/api/vods/{match.group(1)}", timeout=30).json()
    dynamodb = platform.deployment.client("dynamodb")
    key = {"pk": {"S": f"ROOM#{channel}"}, "sk": {"S": f"MSG#{message_id}"}}

    def expiry() -> int:
        item = dynamodb.get_item(TableName=platform.deployment.table_name(Table.CHAT), Key=key)["Item"]
        return int(item["expires_at"]["N"])

    expected = int(datetime.fromisoformat(vod["expires_at"]).timestamp())
    wait_for(lambda: expiry() == expected, 30, "the message kept as long as the VOD")


def clips_the_vod(tab: Tab, platform: LocalPlatform) -> None:
    """The VOD page's range picker: 5 s from the player's position, titled, made through
    `POST /clips` and starting where the player was (whole segments: up to a second before)."""
    page = tab.page
    tab.video("(v.currentTime = 2.5, true)")
    page.get_by_test_id("vod-clip-open").click()
    start = float(page.get_by_test_id("vod-clip-start").get_attribute("data-seconds") or "nan")
    assert start >= 2, start
    page.get_by_test_id("vod-clip-length").select_option("5")
    page.get_by_test_id("vod-clip-title").fill("from the VOD")
    page.get_by_test_id("vod-clip-submit").click()
    made = page.get_by_test_id("clip-created")
    expect(made).to_be_visible(timeout=30_000)
    clip = httpx.get(f"{platform.edge_url}/api/clips/{made.get_attribute('data-clip-id')}", timeout=30).json()
    assert clip["title"] == "from the VOD"
    assert clip["start_seconds"] <= start < clip["start_seconds"] + 1.01, (clip, start)
    assert 5 <= clip["duration_seconds"] <= 6.01, clip


def test_sign_up_go_live_watch_chat_and_replay_in_the_browser(
    platform: LocalPlatform, browser: Browser, warm: None, tmp_path: Path, record_property: Any
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (make installs it)")
    suffix = uuid.uuid4().hex[:8]
    streamer_name, viewer_name = f"web_{suffix}", f"fan_{suffix}"
    source = make_source(tmp_path, 720, SOURCE_SECONDS)
    streamer = Tab(browser, platform, "streamer")
    viewer = Tab(browser, platform, "viewer")
    publisher: subprocess.Popen[bytes] | None = None
    try:
        # 1. The streamer signs up, opens the dashboard and creates a stream key.
        streamer.sign_up(streamer_name)
        page = streamer.page
        page.get_by_test_id("nav-dashboard").click()
        expect(page.get_by_test_id("ingest-url")).to_have_text(platform.rtmp_url)
        expect(page.get_by_test_id("key-state")).to_have_text("No key yet")
        expect(page.get_by_test_id("preview-status")).to_have_text("You are offline")
        page.get_by_test_id("create-key").click()
        key = page.get_by_test_id("stream-key").inner_text().strip()
        assert re.fullmatch(r"\S{20,}", key), key
        viewer.sign_up(viewer_name)

        # 2. ffmpeg publishes with that key; the home page lists the channel as live.
        publisher = publish(source, f"{platform.rtmp_url}/{key}")
        viewer.page.goto(f"/channel/?u={streamer_name}")  # starts polling the channel's state
        page.goto("/")
        expect(page.locator(f'[data-testid=live-card][data-username="{streamer_name}"]')).to_be_visible(timeout=60_000)
        streamer.screenshot("home")
        # A full load right after the home page's own silent refresh: it may abort that refresh's
        # response, and the page then presents the spent cookie again (the reuse grace).
        page.goto("/dashboard/")
        expect(page.get_by_test_id("chat-status")).to_have_text("connected", timeout=60_000)
        # After a reload the key is never shown again, but the page says there is one, and since when.
        key_state = page.get_by_test_id("key-state")
        expect(key_state).to_have_attribute("data-has-key", "true")
        expect(key_state).to_contain_text(re.compile(r"A key is set \(created .+\)"))
        created = datetime.fromisoformat(key_state.get_attribute("data-created") or "")
        assert abs(datetime.now(UTC) - created) < timedelta(minutes=10), created
        expect(page.get_by_test_id("stream-key")).to_have_count(0)
        expect(page.get_by_test_id("create-key")).to_have_text("Rotate stream key")

        # 3. The viewer's player plays, switches rungs and shows how far behind live it is.
        watch = viewer.page
        expect(watch.get_by_test_id("channel-live")).to_be_visible(timeout=30_000)
        plays(viewer, 3)
        switch_quality(viewer)
        expect(watch.get_by_test_id("latency")).to_have_text(re.compile(r"^\d+\.\d s behind live$"), timeout=20_000)
        expect(watch.get_by_test_id("follower-count")).to_have_text("0")
        watch.get_by_test_id("follow-button").click()
        expect(watch.get_by_test_id("follower-count")).to_have_text("1")

        # 4. The viewer chats; the streamer's dashboard chat shows it.
        text = f"hello from the browser {suffix}"
        expect(watch.get_by_test_id("chat-status")).to_have_text("connected", timeout=60_000)
        watch.get_by_test_id("chat-input").fill(text)
        watch.get_by_test_id("chat-send").click()
        line = f'[data-testid=chat-message][data-user="{viewer_name}"]'
        expect(page.locator(line)).to_contain_text(text, timeout=30_000)
        expect(watch.locator(line)).to_contain_text(text)
        message_id = watch.locator(line).get_attribute("data-id")
        expect(watch.get_by_test_id("chat-input")).to_have_value("")
        viewer.screenshot("channel")
        expect(page.get_by_test_id("health-live")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("health-resolution")).to_have_text("1280x720", timeout=30_000)
        # What the worker found in the source and made of it.
        expect(page.get_by_test_id("health-codecs")).to_have_text("H.264 · AAC")
        expect(page.get_by_test_id("health-keyframes")).to_have_text(re.compile(r"^\d+\.\d s$"))
        top_rung = page.get_by_test_id("health-top-rung")
        expect(top_rung).to_contain_text(re.compile(r"Copied from your encoder|Re-encoded"))
        rungs = page.get_by_test_id("health-rungs")
        expect(rungs).to_contain_text(re.compile(r"\b720p\d+\b"))
        expect(rungs).to_contain_text(re.compile(r"\b360p\d+\b"))
        # One truth: the preview and its badge say live too, and the preview plays.
        expect(page.get_by_test_id("channel-live")).to_be_visible()
        expect(page.get_by_test_id("preview-status")).to_have_count(0, timeout=30_000)
        expect(page.get_by_test_id("player-state")).not_to_have_text("offline")
        streamer.screenshot("dashboard")

        # 5. Publishing stops: the channel goes offline and its VOD is there, and plays.
        _, stderr = publisher.communicate(timeout=SOURCE_SECONDS + 60)
        assert publisher.returncode == 0, stderr.decode()
        expect(watch.get_by_test_id("channel-offline")).to_be_visible(timeout=60_000)
        expect(watch.get_by_test_id("player-state")).to_have_text("offline")
        expect(page.get_by_test_id("health-offline")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("channel-offline")).to_be_visible()
        expect(page.get_by_test_id("preview-status")).to_have_text("You are offline")
        vod = watch.get_by_test_id("vod-card").first
        try:
            expect(vod).to_be_visible(timeout=30_000)
        except AssertionError:
            watch.reload()  # the page fetched the VODs before the record was written
            expect(vod).to_be_visible(timeout=30_000)
        vod.get_by_role("link").first.click()
        expect(watch).to_have_url(re.compile(r"/vod/\?id=\w+"))
        expect(watch.get_by_test_id("vod-title")).to_be_visible()
        plays(viewer, 2)
        replays_in_sync(viewer, platform, message_id, text)
        kept_with_the_vod(platform, watch.url, streamer_name.lower(), message_id)
        viewer.screenshot("vod")
        clips_the_vod(viewer, platform)
        assert not streamer.errors, streamer.errors
        assert not viewer.errors, viewer.errors
    finally:
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
            publisher.wait()
        streamer.close()
        viewer.close()
    record_property("screenshots", str(SCREENSHOTS))
    print(f"\nscreenshots: {SCREENSHOTS}/{{home,channel,dashboard,vod}}.png")


def wait_latency(tab: Tab, low: float, high: float, timeout: float = 30_000) -> float:
    """Until the player says it is between `low` and `high` seconds behind live; that figure."""
    handle = tab.page.wait_for_function(
        """([low, high]) => {
            const seconds = Number(document.querySelector('[data-testid=latency]')?.dataset.seconds || NaN);
            return seconds >= low && seconds <= high && seconds;
        }""",
        arg=[low, high],
        timeout=timeout,
    )
    seconds: float = handle.json_value()
    return seconds


def test_a_viewer_rewinds_a_live_broadcast_to_its_start_and_returns_to_live(
    platform: LocalPlatform, browser: Browser, warm: None, tmp_path: Path
) -> None:
    """Issue 16 (rewind): 75 s into a broadcast a viewer goes back 30 s, then 30 s more (the
    player plays the recording, its chunks joined in the browser), seeks to the start of the
    broadcast, and jumps back to live; the live player is the low-latency one again."""
    source = make_source(tmp_path, 360, 180)
    with httpx.Client(base_url=f"{platform.edge_url}/api", timeout=60) as api:
        channel = new_channel(api)
        publisher = publish(source, f"{platform.rtmp_url}/{channel.key}")
        viewer = Tab(browser, platform, "rewinder")
        try:
            page = viewer.page
            page.goto(f"/channel/?u={channel.username}")
            player = page.locator(".player")
            plays(viewer, 75)
            expect(player).to_have_attribute("data-rewinding", "false")
            live_latency = wait_latency(viewer, 0, 8)

            page.get_by_test_id("rewind").click()
            expect(player).to_have_attribute("data-rewinding", "true")
            expect(page.get_by_test_id("player-state")).to_have_text("playing", timeout=30_000)
            wait_latency(viewer, 25 + live_latency, 40 + live_latency)
            page.get_by_test_id("rewind").click()  # rewinding already: 30 s further back
            wait_latency(viewer, 55, 75 + live_latency)
            plays(viewer, 3)  # the recording plays on, a minute behind

            started = datetime.fromisoformat(channel_state(api, channel.username)["started_at"])
            assert (datetime.now(UTC) - started).total_seconds() > 4 * RECORDING_CHUNK_SEGMENTS  # full chunks
            viewer.video("(v.currentTime = v.seekable.start(0), true)")
            since_start = (datetime.now(UTC) - started).total_seconds()
            wait_latency(viewer, since_start - 8, since_start + 8)  # the broadcast's first seconds
            plays(viewer, 2)

            page.get_by_test_id("jump-to-live").click()
            expect(player).to_have_attribute("data-rewinding", "false")
            wait_latency(viewer, 0, 8)
            plays(viewer, 2)
            assert not viewer.errors, viewer.errors
        finally:
            publisher.kill()
            publisher.wait()
            viewer.close()


def test_a_streamer_restreams_to_an_rtmp_server_added_in_the_dashboard(
    platform: LocalPlatform, browser: Browser, warm: None, tmp_path: Path
) -> None:
    """Issue 16 (restream): the streamer adds a destination in the dashboard (a local nginx-rtmp
    in place of Twitch; its key is shown masked, never again in full), goes live with ffmpeg, and
    the dashboard shows the destination live while nginx receives the source, copied. While
    live, turning it off in the dashboard stops the forwarding and turning it on starts it again."""
    destination_key = f"dest_{uuid.uuid4().hex[:12]}"
    source = make_source(tmp_path, 720, 60)
    with NginxRtmp({destination_key}, tmp_path / "nginx") as destination:
        streamer = Tab(browser, platform, "restreamer")
        publisher: subprocess.Popen[bytes] | None = None
        try:
            streamer.sign_up(f"rs_{uuid.uuid4().hex[:8]}")
            page = streamer.page
            page.goto("/dashboard/")
            page.get_by_test_id("create-key").click()
            key = page.get_by_test_id("stream-key").inner_text().strip()
            page.get_by_test_id("destination-preset").select_option("custom")
            page.get_by_test_id("destination-name").fill("Local nginx")
            page.get_by_test_id("destination-url").fill(destination.rtmp_url)
            page.get_by_test_id("destination-key").fill(destination_key)
            page.get_by_test_id("destination-add").click()
            page.get_by_test_id("destinations-save").click()
            row = page.get_by_test_id("destination-row")
            expect(row).to_have_count(1)
            expect(row.get_by_test_id("destination-key-hint")).to_have_text("••••" + destination_key[-4:])
            page.reload()  # saved: listed again from the API, the key masked
            expect(row.get_by_test_id("destination-row-url")).to_have_text(destination.rtmp_url)
            assert destination_key not in page.content()

            publisher = publish(source, f"{platform.rtmp_url}/{key}")
            status = row.get_by_test_id("destination-status")
            expect(status).to_have_attribute("data-state", "live", timeout=60_000)
            expect(status).to_contain_text(re.compile(r"Live · \d+ kbps"))
            stats = destination.wait_publishing(destination_key, timeout=30)
            assert (stats.video_codec, stats.width, stats.height) == ("H264", 1280, 720)
            streamer.screenshot("restream")
            # Off while live: the broadcast reads its destinations again and unpublishes it.
            enabled = row.get_by_test_id("destination-enabled")
            enabled.uncheck()
            page.get_by_test_id("destinations-save").click()
            expect(page.get_by_test_id("destinations-saved")).to_be_visible()
            destination.wait_not_publishing(destination_key, timeout=30)
            expect(status).to_have_count(0, timeout=30_000)
            # On again: forwarded again, from a keyframe, in a new publish.
            enabled.check()
            page.get_by_test_id("destinations-save").click()
            expect(status).to_have_attribute("data-state", "live", timeout=30_000)
            destination.wait_publishing(destination_key, timeout=30)
            _, stderr = publisher.communicate(timeout=120)
            assert publisher.returncode == 0, stderr.decode()
            destination.wait_not_publishing(destination_key, timeout=30)
            first, again = destination.recordings(destination_key)
            assert probe_recording(first).video_packets > 5 * 25  # from the broadcast's start
            assert probe_recording(again).video_packets > 5 * 25  # to its end
            assert not streamer.errors, streamer.errors
        finally:
            if publisher is not None and publisher.poll() is None:
                publisher.kill()
                publisher.wait()
            streamer.close()


def test_a_viewer_clips_a_live_broadcast_from_the_player_and_plays_the_clip(
    platform: LocalPlatform, browser: Browser, warm: None, tmp_path: Path
) -> None:
    """Issue 16 (clips): one click in the live player makes a clip of the last seconds; its page
    plays it, counts the view, names the channel and the creator, gives a share URL, replays
    the chat said in it and offers its MP4 once remuxed (and again, had it failed); the channel
    page lists it among the newest and the most viewed."""
    source = make_source(tmp_path, 360, 60)
    with httpx.Client(base_url=f"{platform.edge_url}/api", timeout=60) as api:
        channel = new_channel(api)
        publisher = publish(source, f"{platform.rtmp_url}/{channel.key}")
        viewer = Tab(browser, platform, "clipper")
        try:
            clipper = f"cl_{uuid.uuid4().hex[:8]}"
            viewer.sign_up(clipper)
            page = viewer.page
            page.goto(f"/channel/?u={channel.username}")
            plays(viewer, 12)
            # Something said a few seconds before the clip is made: the clip replays it.
            text = f"clip this {uuid.uuid4().hex[:6]}"
            expect(page.get_by_test_id("chat-status")).to_have_text("connected", timeout=60_000)
            page.get_by_test_id("chat-input").fill(text)
            page.get_by_test_id("chat-send").click()
            line = page.locator(f'[data-testid=chat-message][data-user="{clipper}"]')
            expect(line).to_contain_text(text, timeout=30_000)
            message_id = line.get_attribute("data-id")
            plays(viewer, 4)
            page.get_by_test_id("clip-button").click()
            created = page.get_by_test_id("clip-created")
            expect(created).to_be_visible(timeout=30_000)
            clip_id = created.get_attribute("data-clip-id") or ""
            assert re.fullmatch(r"[0-9a-f]{16}", clip_id), clip_id
            created.click()
            expect(page).to_have_url(re.compile(rf"/clip/\?id={clip_id}$"))
            expect(page.get_by_test_id("clip-channel")).to_have_text(channel.username)
            expect(page.get_by_test_id("clip-creator")).to_contain_text(clipper)
            expect(page.get_by_test_id("clip-views")).to_have_attribute("data-count", "1")
            expect(page.get_by_test_id("clip-share-url")).to_contain_text(f"/clip/?id={clip_id}")
            expect(page.get_by_test_id("clip-delete")).to_be_visible()  # its creator may delete it
            plays(viewer, 3)
            # Its chat, kept with it (`GET /clips/{id}/chat`), shown when playback reaches it.
            replayed = page.locator(f'[data-testid=replay-message][data-id="{message_id}"]')
            expect(replayed).to_contain_text(text, timeout=30_000)
            # Its MP4, remuxed by the consumer on the bus, offered once ready.
            download = page.get_by_test_id("clip-download")
            expect(download).to_have_attribute("data-state", "ready", timeout=60_000)
            link = page.get_by_test_id("clip-download-link")
            expect(link).to_contain_text("Download MP4")
            mp4 = httpx.get(link.get_attribute("href") or "", timeout=30)
            assert (mp4.status_code, mp4.headers["content-type"]) == (200, "video/mp4")
            viewer.screenshot("clip")
            # Had every attempt failed, its creator makes it again from the page.
            fail_clip_download(platform, clip_id)
            page.reload()
            expect(download).to_have_attribute("data-state", "failed", timeout=30_000)
            expect(page.get_by_test_id("clip-download-failed")).to_contain_text("timed out")
            page.get_by_test_id("clip-download-retry").click()
            expect(download).to_have_attribute("data-state", "ready", timeout=60_000)
            assert httpx.get(link.get_attribute("href") or "", timeout=30).status_code == 200
            page.goto(f"/channel/?u={channel.username}")
            card = page.locator(f'[data-testid=clip-card][data-clip-id="{clip_id}"]')
            expect(card).to_be_visible(timeout=30_000)
            page.get_by_test_id("clips-tab-top").click()
            expect(page.get_by_test_id("clips-tab-top")).to_have_attribute("aria-selected", "true")
            expect(card).to_be_visible(timeout=30_000)  # the most viewed: its one view
            assert not viewer.errors, viewer.errors
        finally:
            publisher.kill()
            publisher.wait()
            viewer.close()
