"""The ingest worker: an asyncio process on ECS Fargate with a `/health` endpoint and graceful drain.

RTMP sessions register their broadcasts with `IngestWorker.broadcasts`, so that SIGTERM waits
for them (up to the drain timeout) before the process exits.
"""
