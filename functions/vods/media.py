"""Lambda entry point: `VodDeleted` (through EventBridge) removes the VOD's media from the bucket
and invalidates it in CloudFront."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.errors import InvalidInput
from letslive.models.events import VodDeleted
from letslive.services.vods import VodMediaCleaner, vod_media_cleaner

observability = Observability(Service.VODS.value)
logger = observability.logger


@cache
def _cleaner() -> VodMediaCleaner:
    return vod_media_cleaner()


@observability.entry_point(EVENTBRIDGE_EVENT_ID)
def handler(event: dict[str, Any], context: Any) -> None:
    if event.get("detail-type") != VodDeleted.detail_type:
        logger.warning("ignoring an event of another type", extra={"detail_type": event.get("detail-type")})
        return
    try:
        deleted = VodDeleted.model_validate(event.get("detail"))
        # DependencyUnavailable propagates: Lambda retries the asynchronous invocation, then the
        # event goes to the consumer's dead-letter queue (a redrive is safe: removal is idempotent).
        removed = _cleaner().remove(deleted)
    except (ValidationError, InvalidInput):
        logger.error("dropping a malformed VodDeleted event", extra={"detail": event.get("detail")})
        return
    logger.info(
        "removed a deleted VOD's media",
        extra={
            "vod_id": deleted.vod_id,
            "objects": removed.objects,
            # None: no CDN configured (locally the edge caches no media).
            "invalidation": removed.invalidation,
        },
    )
