"""Deleting a VOD removes its media (issue 14, item 4), on the running local platform.

The hole: only the VOD's record went, and its playlists, segments and thumbnail stayed readable
through the edge until the bucket's lifecycle rule. Replayed here: a channel broadcasts twice,
both VODs become ready, one is deleted; within a bounded time every object of that broadcast
(every rung's playlists and segments, the live/event playlists, the thumbnail) is gone from the
bucket and answers 404 at the edge, while the channel's other VOD is served untouched. The
edge caches media as CloudFront does; no invalidation reaches it locally (in AWS the consumer
sends one), so it drops a broadcast's cached objects once the bucket holds none of them.
"""

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.channels import finish, new_channel, vod_playlists, vods_of
from tests.e2e.conftest import LocalPlatform
from tests.e2e.media import make_source, publish, wait_for

# How long the asynchronous removal (EventBridge → the consumer Lambda → S3) may take locally.
REMOVAL_BOUND_SECONDS = 30


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (make installs it)")
    return make_source(tmp_path_factory.mktemp("sources"), 720, 5)


def bucket_keys(platform: LocalPlatform, prefix: str) -> list[str]:
    s3 = platform.deployment.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=platform.deployment.media_bucket, Prefix=prefix):
        keys += [obj["Key"] for obj in page.get("Contents", ())]
    return keys


def media_urls(platform: LocalPlatform, vod: dict[str, Any]) -> list[str]:
    """Every object of the VOD's broadcast as a viewer's URL at the edge (the bucket lists them
    all: live and event playlists too), checked against what the VOD's playlists name."""
    base, playlists = vod_playlists(vod)
    named = {vod["playback_url"], vod["thumbnail_url"]}
    named |= {f"{base}/{uri}" for uri in playlists}
    named |= {f"{base}/{s.uri}" for playlist in playlists.values() for s in playlist.segments}
    prefix = f"hls/broadcasts/{vod['vod_id']}/"
    stored = {f"{platform.edge_url}/{key}" for key in bucket_keys(platform, prefix)}
    assert named <= stored, named - stored
    assert any(url.endswith("/master.m3u8") for url in stored)  # the live master too
    return sorted(stored)


def test_a_deleted_vods_media_is_no_longer_served(
    platform: LocalPlatform,
    api: httpx.Client,
    source: Path,
    events: Callable[[], list[dict[str, Any]]],
) -> None:
    channel = new_channel(api)
    for _ in range(2):  # two broadcasts of one channel, one after the other: two VODs
        publisher = publish(source, f"{platform.rtmp_url}/{channel.key}")
        try:
            finish(publisher)
        finally:
            publisher.kill()
        count = len(vods_of(api, channel.username)) + 1
        wait_for(lambda count=count: len(vods_of(api, channel.username)) == count, 30, "the VOD")  # type: ignore[misc]
    doomed, kept = vods_of(api, channel.username)
    doomed_urls, kept_urls = media_urls(platform, doomed), media_urls(platform, kept)
    assert len(doomed_urls) > 10
    assert all(httpx.head(url).status_code == 200 for url in doomed_urls + kept_urls)

    owner = {"authorization": f"Bearer {channel.token}"}
    intruder = new_channel(api)
    refused = api.delete(f"/vods/{doomed['vod_id']}", headers={"authorization": f"Bearer {intruder.token}"})
    assert refused.status_code == 403, refused.text

    deleted = api.delete(f"/vods/{doomed['vod_id']}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    started = time.monotonic()
    assert api.get(f"/vods/{doomed['vod_id']}").status_code == 404

    def unreachable() -> bool:
        return not bucket_keys(platform, f"hls/broadcasts/{doomed['vod_id']}/") and all(
            httpx.get(url).status_code == 404 for url in doomed_urls
        )

    wait_for(unreachable, REMOVAL_BOUND_SECONDS, "every object of the deleted VOD to be gone", interval=0.5)
    took = time.monotonic() - started
    print(f"\na deleted VOD's {len(doomed_urls)} objects were unreachable {took:.1f} s after the 204")

    # Nothing of the channel's other broadcast went.
    assert [vod["vod_id"] for vod in vods_of(api, channel.username)] == [kept["vod_id"]]
    assert all(httpx.head(url).status_code == 200 for url in kept_urls)
    assert sorted(f"{platform.edge_url}/{k}" for k in bucket_keys(platform, f"hls/broadcasts/{kept['vod_id']}/")) == (
        kept_urls
    )
    (event,) = [e for e in events() if e["detail-type"] == "VodDeleted" and e["detail"]["username"] == channel.username]
    assert event["detail"]["media_prefix"] == f"hls/broadcasts/{doomed['vod_id']}"
