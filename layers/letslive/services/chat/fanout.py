"""Delivering one event to every connection of a room.

A room's connection ids come from one query on its partition. Up to `threshold` connections
are posted to from this process by a bounded thread pool (the posts are I/O: 32 in flight keep
one Lambda busy without tripping API Gateway's per-account rate). A bigger room is cut into
batches of `batch_size` that go through the SQS fan-out queue to as many fan-out workers, so
one message never has to reach 10,000 connections inside one Lambda's time limit. Ids that
answer Gone are deleted from the room; ids that failed otherwise are retried once more.
"""

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, Protocol

from letslive.data.connections_api import POST_CONCURRENCY
from letslive.errors import DependencyUnavailable
from letslive.models.chat import FanoutBatch, ViewerRecount

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 250
# A batch whose posts failed (not Gone) is queued again with what failed, this many times.
MAX_BATCH_ATTEMPTS: Final = 3


class ConnectionGateway(Protocol):
    """API Gateway's `@connections` (`letslive.data.connections_api`)."""

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send `data` to the connection; False when it is gone (closed, never existed)."""
        ...

    def close(self, connection_id: str) -> None: ...


class FanoutQueue(Protocol):
    """The SQS fan-out queue (`letslive.data.fanout_queue`)."""

    def enqueue(self, tasks: Sequence[FanoutBatch | ViewerRecount], delay_seconds: int = 0) -> None: ...


class RoomConnections(Protocol):
    def ids(self, channel: str) -> list[str]: ...

    def remove_many(self, channel: str, connection_ids: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class FanoutReport:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    queued: int = 0


class Fanout:
    def __init__(
        self,
        connections: RoomConnections,
        gateway: ConnectionGateway,
        queue: FanoutQueue | None,
        *,
        threshold: int,
        batch_size: int = BATCH_SIZE,
        concurrency: int = POST_CONCURRENCY,
    ) -> None:
        self.connections = connections
        self.gateway = gateway
        self.queue = queue
        self.threshold = threshold
        self.batch_size = batch_size
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fanout")

    def broadcast(self, channel: str, payload: bytes) -> FanoutReport:
        ids = self.connections.ids(channel)
        if self.queue is not None and len(ids) > self.threshold:
            text = payload.decode()
            batches = [
                FanoutBatch(channel=channel, connection_ids=ids[start : start + self.batch_size], payload=text)
                for start in range(0, len(ids), self.batch_size)
            ]
            self.queue.enqueue(batches)
            return FanoutReport(queued=len(ids))
        report = self.deliver(channel, ids, payload)
        if not report.failed:
            return report
        # Once more, to what failed only: a connection that got the event never gets it twice.
        retry = self.deliver(channel, report.failed, payload)
        return FanoutReport(
            delivered=report.delivered + retry.delivered, gone=report.gone + retry.gone, failed=retry.failed
        )

    def deliver(self, channel: str, connection_ids: Sequence[str], payload: bytes) -> FanoutReport:
        """Post to every id concurrently; Gone ids are removed from the room."""
        outcomes = list(self._pool.map(lambda connection_id: self._post(connection_id, payload), connection_ids))
        gone = [cid for cid, outcome in zip(connection_ids, outcomes, strict=True) if outcome is False]
        failed = [cid for cid, outcome in zip(connection_ids, outcomes, strict=True) if outcome is None]
        if gone:
            self.connections.remove_many(channel, gone)
        return FanoutReport(delivered=outcomes.count(True), gone=gone, failed=failed)

    def deliver_batch(self, batch: FanoutBatch) -> FanoutReport:
        """A queued batch (fan-out worker): what failed is queued again, so that a retry never
        posts twice to the connections that already got the event."""
        report = self.deliver(batch.channel, batch.connection_ids, batch.payload.encode())
        if report.failed:
            if self.queue is None or batch.attempt + 1 >= MAX_BATCH_ATTEMPTS:
                logger.warning("giving up on %d connections of %s", len(report.failed), batch.channel)
            else:
                retry = batch.model_copy(update={"connection_ids": report.failed, "attempt": batch.attempt + 1})
                self.queue.enqueue([retry], delay_seconds=1)
        return report

    def tell(self, connection_id: str, payload: bytes) -> bool:
        """One connection only (a notice, a reply); False when it is gone."""
        return self.gateway.post(connection_id, payload)

    def _post(self, connection_id: str, payload: bytes) -> bool | None:
        try:
            return self.gateway.post(connection_id, payload)
        except DependencyUnavailable:
            logger.warning("post to a connection failed", exc_info=True)
            return None
