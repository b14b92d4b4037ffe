"""Deleting a VOD removes its media (issue 14, item 4), against moto: the delete route publishes
`VodDeleted` on the bus, and the consumer (`functions.vods.media`) deletes every object of the
broadcast from the media bucket (paginated, in batches) and invalidates it in CloudFront, through
the distribution id the CDN stack publishes in SSM.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from fastapi.testclient import TestClient

from functions.vods import media
from letslive.constants import ENV_CDN_DISTRIBUTION_PARAMETER, ENV_EVENT_BUS, ENV_MEDIA_BUCKET, EVENT_SOURCE
from letslive.data.storage import s3_media_storage
from letslive.errors import DependencyUnavailable
from letslive.models.events import VodDeleted
from letslive.services.recordings import broadcast_prefix
from letslive.services.tokens import SigningKey
from letslive.services.vods import vod_media_cleaner
from tests.integration.conftest import REGION, EventBus, forget_cached_aws
from tests.integration.test_health_api import LambdaContext
from tests.integration.test_vods_api import START, auth, broadcast, client, record, recorder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["client"]  # the fixture, imported for its use here

PARAMETER = "/letslive/test/cdn/distribution-id"
RUNGS = ("source", "720p", "480p")

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture(autouse=True)
def _fresh_cleaner() -> Iterator[None]:
    media._cleaner.cache_clear()
    yield
    media._cleaner.cache_clear()


def broadcast_objects(broadcast_id: str, segments: int) -> list[str]:
    """Every key the ingest worker and the VOD writer store for a broadcast of two parts."""
    prefix = broadcast_prefix(broadcast_id)
    keys = [f"{prefix}/master.m3u8", f"{prefix}/vod.m3u8", f"{prefix}/thumbnail.jpg"]
    for rung in RUNGS:
        keys += [f"{prefix}/{rung}.m3u8", f"{prefix}/event_{rung}.m3u8", f"{prefix}/vod_{rung}.m3u8"]
        keys += [f"{prefix}/{rung}/{n:06d}.ts" for n in range(segments)]
    return keys


def put_all(s3: "S3Client", bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")


def stored(s3: "S3Client", bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys |= {obj["Key"] for obj in page.get("Contents", ())}
    return keys


def distribution(monkeypatch: pytest.MonkeyPatch) -> str:
    """A CloudFront distribution in moto, its id in the SSM parameter the CDN stack writes."""
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "media",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "media",
                        "DomainName": "media.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "media",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    distribution_id: str = created["Distribution"]["Id"]
    boto3.client("ssm", region_name=REGION).put_parameter(Name=PARAMETER, Value=distribution_id, Type="String")
    monkeypatch.setenv(ENV_CDN_DISTRIBUTION_PARAMETER, PARAMETER)
    return distribution_id


def invalidated_paths(distribution_id: str) -> list[list[str]]:
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]["InvalidationBatch"][
            "Paths"
        ].get("Items", [])
        for item in listed
    ]


def deleted_event(vod_id: str, prefix: str | None = None) -> dict[str, Any]:
    detail = VodDeleted(
        username="alice",
        vod_id=vod_id,
        media_prefix=broadcast_prefix(vod_id) if prefix is None else prefix,
        deleted_at=datetime.now(UTC),
    )
    return {
        "id": str(uuid.uuid4()),
        "source": EVENT_SOURCE,
        "detail-type": VodDeleted.detail_type,
        "detail": detail.model_dump(mode="json"),
    }


def test_deleting_a_vod_publishes_its_media_prefix_and_the_consumer_removes_it_all(
    client: TestClient,
    accounts: SigningKey,
    event_bus: EventBus,
    s3: "S3Client",
    media_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole path in moto: DELETE /vods/{id} → `VodDeleted` on the bus → the consumer, fed
    that very event, deletes more than one list page of objects (every rung, part, playlist and
    the thumbnail), nothing of the channel's other broadcast, and invalidates the broadcast's paths."""
    distribution_id = distribution(monkeypatch)
    vod_id = record(recorder(), broadcast("alice", START))
    other_id = record(recorder(), broadcast("alice", START))
    doomed = broadcast_objects(vod_id, 400)  # 1,221 objects: two list pages, two DeleteObjects
    kept = [*broadcast_objects(other_id, 3), "hls/live/elsewhere.m3u8"]
    put_all(s3, media_bucket, doomed + kept)
    event_bus.received()  # the VodReady events

    response = client.delete(f"/vods/{vod_id}", headers=auth(accounts, "alice"))
    assert response.status_code == 204, response.text
    (published,) = event_bus.received()
    assert published["detail-type"] == "VodDeleted"
    assert published["detail"]["vod_id"] == vod_id
    assert published["detail"]["media_prefix"] == f"hls/broadcasts/{vod_id}"
    assert set(stored(s3, media_bucket)) == set(doomed + kept)  # nothing goes synchronously

    media.handler(published, LambdaContext("letslive-vods-media"))
    assert stored(s3, media_bucket) == set(kept)
    assert invalidated_paths(distribution_id) == [[f"/hls/broadcasts/{vod_id}/*"]]

    # At-least-once delivery: the same event again deletes nothing more and fails nothing.
    media.handler(published, LambdaContext("letslive-vods-media"))
    assert stored(s3, media_bucket) == set(kept)
    assert client.get(f"/vods/{other_id}").status_code == 200


def test_without_a_distribution_the_media_still_goes(s3: "S3Client", media_bucket: str) -> None:
    """Locally no CDN is configured: the objects are deleted and no invalidation is attempted."""
    vod_id = uuid.uuid4().hex
    put_all(s3, media_bucket, broadcast_objects(vod_id, 2))
    removed = vod_media_cleaner().remove(VodDeleted.model_validate(deleted_event(vod_id)["detail"]))
    assert (removed.objects, removed.invalidation) == (len(broadcast_objects(vod_id, 2)), None)
    assert stored(s3, media_bucket) == set()


@pytest.mark.parametrize(
    "prefix",
    ["hls/broadcasts", "hls", "", "hls/broadcasts/{other}", "hls/broadcasts/{vod}/..", "hls/broadcasts/{vod}/source"],
)
def test_an_event_naming_anything_but_its_own_broadcast_deletes_nothing(
    s3: "S3Client", media_bucket: str, prefix: str
) -> None:
    vod_id, other_id = uuid.uuid4().hex, uuid.uuid4().hex
    keys = broadcast_objects(vod_id, 2) + broadcast_objects(other_id, 2)
    put_all(s3, media_bucket, keys)
    event = deleted_event(vod_id, prefix.format(vod=vod_id, other=other_id))
    media.handler(event, LambdaContext("letslive-vods-media"))
    assert stored(s3, media_bucket) == set(keys)


def test_a_prefix_ends_at_a_directory(s3: "S3Client", media_bucket: str) -> None:
    """`hls/broadcasts/<id>/` never takes `hls/broadcasts/<id>0/...` (a longer name sharing the start)."""
    keys = ["hls/broadcasts/abc/a.ts", "hls/broadcasts/abc0/a.ts"]
    put_all(s3, media_bucket, keys)
    storage = s3_media_storage()
    with pytest.raises(ValueError, match="ending with"):
        storage.delete_prefix("hls/broadcasts/abc")
    assert storage.delete_prefix("hls/broadcasts/abc/") == 1
    assert stored(s3, media_bucket) == {"hls/broadcasts/abc0/a.ts"}


def test_an_unreachable_store_fails_the_invocation_for_a_retry(
    s3: "S3Client", media_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure raises out of the handler: Lambda retries it, then it lands in the dead-letter queue."""
    monkeypatch.setenv(ENV_MEDIA_BUCKET, "no-such-bucket")
    forget_cached_aws()
    with pytest.raises(DependencyUnavailable):
        media.handler(deleted_event(uuid.uuid4().hex), LambdaContext("letslive-vods-media"))


def test_a_missing_distribution_parameter_fails_after_the_objects_went(
    s3: "S3Client", media_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The objects go first; an invalidation that cannot be made fails the invocation (retried)."""
    monkeypatch.setenv(ENV_CDN_DISTRIBUTION_PARAMETER, "/letslive/test/cdn/missing")
    vod_id = uuid.uuid4().hex
    put_all(s3, media_bucket, broadcast_objects(vod_id, 1))
    with pytest.raises(DependencyUnavailable):
        media.handler(deleted_event(vod_id), LambdaContext("letslive-vods-media"))
    assert stored(s3, media_bucket) == set()


def test_a_delete_whose_event_cannot_be_published_changes_nothing(
    client: TestClient, accounts: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `VodDeleted` the media would stay public: the caller gets a 503 and the VOD stays,
    so that a retry deletes it properly."""
    vod_id = record(recorder(), broadcast("alice", START))
    monkeypatch.setenv(ENV_EVENT_BUS, "no-such-bus")
    forget_cached_aws()
    response = client.delete(f"/vods/{vod_id}", headers=auth(accounts, "alice"))
    assert response.status_code == 503, response.text
    assert client.get(f"/vods/{vod_id}").status_code == 200
