"""Lambda entry point: `ClipCreated` (through EventBridge) remuxes the clip's MP4 download."""

from functools import cache
from typing import Any

from pydantic import ValidationError

from functions.common.observability import EVENTBRIDGE_EVENT_ID, Observability
from letslive.constants import Service
from letslive.models.events import ClipCreated
from letslive.services.clip_downloads import ClipDownloads, clip_downloads

observability = Observability(Service.VODS.value)
logger = observability.logger


@cache
def _downloads() -> ClipDownloads:
    return clip_downloads()


@observability.entry_point(EVENTBRIDGE_EVENT_ID)
def handler(event: dict[str, Any], context: Any) -> None:
    if event.get("detail-type") != ClipCreated.detail_type:
        logger.warning("ignoring an event of another type", extra={"detail_type": event.get("detail-type")})
        return
    try:
        created = ClipCreated.model_validate(event.get("detail"))
    except ValidationError:
        logger.error("dropping a malformed event", extra={"detail": event.get("detail")})
        return
    # DependencyUnavailable propagates: Lambda retries the invocation, which starts over.
    outcome = _downloads().build(created)
    if outcome is None:
        logger.info("nothing to remux (the clip is gone or its MP4 is made)", extra={"clip_id": created.clip_id})
    else:
        extra = {"clip_id": created.clip_id, "state": outcome.state, "bytes": outcome.size_bytes}
        logger.info("remuxed the clip's MP4", extra={**extra, "reason": outcome.reason})
