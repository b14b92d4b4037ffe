"""Lambda entry point: `VodDeleted` or `ClipDeleted` (through EventBridge) removes the VOD's or
the clip's media from the bucket and invalidates it in CloudFront."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.errors import InvalidInput
from letslive.models.events import ClipDeleted, VodDeleted
from letslive.services.vods import VodMediaCleaner, vod_media_cleaner

# What removes media: a deleted VOD's (its broadcast's prefix) or clip's (its own directory).
DELETIONS: dict[str, type[VodDeleted] | type[ClipDeleted]] = {
    VodDeleted.detail_type: VodDeleted,
    ClipDeleted.detail_type: ClipDeleted,
}

observability = Observability(Service.VODS.value)
logger = observability.logger


@cache
def _cleaner() -> VodMediaCleaner:
    return vod_media_cleaner()


@observability.entry_point(EVENTBRIDGE_EVENT_ID)
def handler(event: dict[str, Any], context: Any) -> None:
    kind = DELETIONS.get(str(event.get("detail-type")))
    if kind is None:
        logger.warning("ignoring an event of another type", extra={"detail_type": event.get("detail-type")})
        return
    try:
        deleted = kind.model_validate(event.get("detail"))
        # DependencyUnavailable propagates: Lambda retries the asynchronous invocation, then the
        # event goes to the consumer's dead-letter queue (a redrive is safe: removal is idempotent).
        removed = _cleaner().remove(deleted)
    except (ValidationError, InvalidInput):
        logger.error("dropping a malformed event", extra={"detail": event.get("detail")})
        return
    logger.info(
        "removed deleted media",
        extra={
            "prefix": deleted.media_prefix,
            "objects": removed.objects,
            # None: no CDN configured (locally the edge caches no media).
            "invalidation": removed.invalidation,
        },
    )
