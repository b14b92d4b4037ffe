"""Clips on the running platform: a real ffmpeg publisher, the clip made through the edge's
`/api`, played back through the edge's `/hls` with ffprobe (decoded, not just listed): from a
live broadcast, from its VOD, and after the VOD is deleted; a failed MP4 made again."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from letslive.media.playlists import parse_media_playlist
from tests.e2e.channels import fail_clip_download, fetch, finish, new_channel, playback_url, vods_once_offline
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for


def probe(url: str) -> tuple[float, int, int, int]:
    """Duration, the first rendition's width and height, and its video frames, every one decoded."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=width,height,nb_read_frames:format=duration", "-of", "json", url],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found = json.loads(result.stdout)
    stream = found["streams"][0]
    return float(found["format"]["duration"]), stream["width"], stream["height"], int(stream["nb_read_frames"])


def make_clip(api: httpx.Client, token: str, **body: Any) -> dict[str, Any]:
    response = api.post("/clips", json=body, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    clip: dict[str, Any] = response.json()
    return clip


def ready_download(api: httpx.Client, clip_id: str) -> dict[str, Any]:
    """The clip's download once the consumer made it (it moves through `remuxing`)."""
    seen: list[dict[str, Any]] = []

    def ready() -> bool:
        seen.append(api.get(f"/clips/{clip_id}").json()["download"])
        assert seen[-1]["state"] != "failed", seen[-1]
        return bool(seen[-1]["state"] == "ready")

    wait_for(ready, 60, "the clip's MP4")
    return seen[-1]


def test_a_clip_of_a_live_broadcast_and_of_its_vod_play_and_outlive_the_vod(
    platform: LocalPlatform, api: httpx.Client, tmp_path: Path
) -> None:
    channel = new_channel(api)
    viewer = new_channel(api)  # any signed-in account may clip
    source = make_source(tmp_path, 720, 30)
    publisher = publish(source, f"{platform.rtmp_url}/{channel.key}")
    try:
        live = playback_url(api, channel.username)
        match = re.search(r"/broadcasts/([0-9a-f]{32})/", live)
        assert match is not None, live
        broadcast_id = match[1]
        base = live.rsplit("/", 1)[0]
        wait_for(
            lambda: parse_media_playlist(fetch(f"{base}/720p.m3u8").text).segments[-1].sequence >= 14,
            60,
            "15 s of the broadcast",
        )
        live_clip = make_clip(api, viewer.token, broadcast_id=broadcast_id, seconds=10, title="live")
        duration, width, height, frames = probe(live_clip["playback_url"])
        assert live_clip["duration_seconds"] == pytest.approx(10, abs=1)
        assert duration == pytest.approx(live_clip["duration_seconds"], abs=0.2)
        assert (width, height) == (1280, 720)
        assert frames >= 9 * 30
        finish(publisher)
    finally:
        publisher.kill()

    vods_once_offline(api, channel.username, 60)
    vod_clip = make_clip(api, viewer.token, broadcast_id=broadcast_id, start_seconds=5, seconds=8)
    assert (vod_clip["start_seconds"], vod_clip["duration_seconds"]) == pytest.approx((5, 8), abs=1)
    assert probe(vod_clip["playback_url"])[0] == pytest.approx(vod_clip["duration_seconds"], abs=0.2)

    # The channel owner deletes the VOD; its media goes, the clips' stays and plays.
    owner = {"authorization": f"Bearer {channel.token}"}
    assert api.delete(f"/vods/{broadcast_id}", headers=owner).status_code == 204
    s3 = platform.deployment.client("s3")
    bucket = platform.deployment.media_bucket
    wait_for(
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"hls/broadcasts/{broadcast_id}/")["KeyCount"] == 0,
        60,
        "the VOD's media removed",
    )
    for clip in (live_clip, vod_clip):
        assert probe(clip["playback_url"])[0] == pytest.approx(clip["duration_seconds"], abs=0.2)
    # Each clip's MP4, remuxed by the downloads consumer (a Lambda with PyAV's layer), served
    # through the edge as an attachment: the clip's frames, with no VOD left to read them from.
    for clip in (live_clip, vod_clip):
        download = ready_download(api, clip["clip_id"])
        mp4 = fetch(download["url"])
        assert mp4.headers["content-type"] == "video/mp4"
        assert mp4.headers["content-disposition"].startswith("attachment; filename=")
        assert len(mp4.content) == download["size_bytes"]
        saved = tmp_path / f"{clip['clip_id']}.mp4"
        saved.write_bytes(mp4.content)
        duration, width, height, frames = probe(str(saved))
        assert duration == pytest.approx(clip["duration_seconds"], abs=0.2)
        assert (width, height, frames) == (1280, 720, probe(clip["playback_url"])[3])
    listed = api.get("/clips", params={"channel": channel.username}).json()["items"]
    assert [c["clip_id"] for c in listed] == [vod_clip["clip_id"], live_clip["clip_id"]]

    # A download that failed, as the consumer records a failure, its MP4 never stored: the
    # creator has it made again, by the deployed API, bus and consumer.
    fail_clip_download(platform, vod_clip["clip_id"])
    retry = f"/clips/{vod_clip['clip_id']}/download"
    assert api.get(f"/clips/{vod_clip['clip_id']}").json()["download"]["state"] == "failed"
    mine = {"authorization": f"Bearer {viewer.token}"}
    answer = api.post(retry, headers=mine)
    assert answer.status_code == 202, answer.text
    assert answer.json()["download"]["state"] == "pending"
    download = ready_download(api, vod_clip["clip_id"])
    mp4_key = f"hls/clips/{vod_clip['clip_id']}/clip.mp4"
    assert s3.head_object(Bucket=bucket, Key=mp4_key)["ContentLength"] == download["size_bytes"]
    assert api.post(retry, headers=mine).status_code == 409

    # The creator deletes one: its media goes too.
    assert api.delete(f"/clips/{live_clip['clip_id']}", headers=mine).status_code == 204
    wait_for(
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"hls/clips/{live_clip['clip_id']}/")["KeyCount"] == 0,
        60,
        "the clip's media removed",
    )
