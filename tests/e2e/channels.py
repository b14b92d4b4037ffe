"""Channels on the running local platform, as the e2e suites use them: an account with a stream
key, and the API, the edge and the media bucket read back as a player and the web app would."""

import re
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from letslive.constants import Table
from letslive.media.playlists import MediaPlaylist, parse_master_playlist, parse_media_playlist
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import wait_for

PASSWORD = "correct horse battery staple 42"


@dataclass
class Channel:
    username: str
    token: str
    key: str


def new_channel(api: httpx.Client) -> Channel:
    username = f"live_{uuid.uuid4().hex[:8]}"
    signup = api.post(
        "/auth/signup", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert signup.status_code == 201, signup.text
    token = api.post("/auth/login", json={"username": username, "password": PASSWORD}).json()["access_token"]
    key = api.post("/streams/me/key", headers={"authorization": f"Bearer {token}"})
    assert key.status_code in (200, 201), key.text
    return Channel(username, token, key.json()["stream_key"])


def playback_url(api: httpx.Client, username: str) -> str:
    url: str = wait_for(lambda: channel_state(api, username).get("playback_url"), 20, f"{username} to go live")
    return url


def fetch(url: str) -> httpx.Response:
    response: httpx.Response = wait_for(lambda: (r := httpx.get(url)).status_code == 200 and r, 20, url)
    return response


def media_objects(platform: LocalPlatform) -> int:
    s3 = platform.deployment.client("s3")
    listing = s3.list_objects_v2(Bucket=platform.deployment.media_bucket, Prefix="hls/")
    return int(listing.get("KeyCount", 0))


def channel_state(api: httpx.Client, username: str) -> dict[str, Any]:
    state: dict[str, Any] = api.get(f"/streams/{username}").json()
    return state


def vods_of(api: httpx.Client, username: str) -> list[dict[str, Any]]:
    response = api.get("/vods", params={"channel": username})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def vods_once_offline(api: httpx.Client, username: str, timeout: float, what: str = "the VOD") -> list[dict[str, Any]]:
    """The channel's VODs once it has one and is offline: a worker records the VOD, then ends the
    broadcast, so for a moment the VOD is listed while the channel is still live."""
    vods: list[dict[str, Any]] = wait_for(
        lambda: not channel_state(api, username)["live"] and vods_of(api, username), timeout, what
    )
    return vods


def ffprobe_ok(url: str) -> bool:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", url],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0 and not result.stderr and b"video" in result.stdout


def finish(process: "subprocess.Popen[bytes]", timeout: float = 60) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr.decode(errors="replace")


def vod_playlists(vod: dict[str, Any]) -> tuple[str, dict[str, MediaPlaylist]]:
    base = vod["playback_url"].rsplit("/", 1)[0]
    variants = parse_master_playlist(httpx.get(vod["playback_url"]).text)
    return base, {v.uri: parse_media_playlist(httpx.get(f"{base}/{v.uri}").text) for v in variants}


def assert_complete(vod: dict[str, Any], discontinuities: int) -> int:
    """Every rung: ended, numbered without a hole, every segment served, no gap; returns the
    number of segments of the top rung."""
    base, playlists = vod_playlists(vod)
    for uri, playlist in playlists.items():
        assert playlist.ended, uri
        numbers = [int(re.findall(r"_(\d+)\.ts$", s.uri)[0]) for s in playlist.segments]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), (uri, numbers)
        assert not [s for s in playlist.segments if s.gap], uri
        assert sum(s.discontinuity for s in playlist.segments) == discontinuities, uri
        for segment in playlist.segments:
            assert httpx.head(f"{base}/{segment.uri}").status_code == 200, segment.uri
    return len(next(iter(playlists.values())).segments)


def active_broadcasts(platform: LocalPlatform) -> list[int]:
    """How many broadcasts each worker carries, from its /health."""
    return [int(httpx.get(url, timeout=10).json()["active_broadcasts"]) for url in platform.worker_health_urls]


def fail_clip_download(platform: LocalPlatform, clip_id: str) -> None:
    """The clip's MP4 as if its every attempt had failed: the object gone, the record `failed`
    as the consumer writes a failure (in the deployed table)."""
    platform.deployment.client("s3").delete_object(
        Bucket=platform.deployment.media_bucket, Key=f"hls/clips/{clip_id}/clip.mp4"
    )
    platform.deployment.client("dynamodb").update_item(
        TableName=platform.deployment.table_name(Table.VODS),
        Key={"pk": {"S": f"CLIP#{clip_id}"}, "sk": {"S": "CLIP"}},
        UpdateExpression="SET download_state = :failed, download_reason = :reason REMOVE download_bytes",
        ExpressionAttributeValues={":failed": {"S": "failed"}, ":reason": {"S": "reading the segments timed out"}},
    )
