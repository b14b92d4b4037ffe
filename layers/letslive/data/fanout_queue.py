"""The SQS queue of the chat's deferred work: a big room's fan-out in batches, and delayed
viewer recounts. Consumed by the fan-out workers (`functions/chat/fanout.py`)."""

from collections.abc import Sequence
from typing import Any, Final

from letslive.errors import DependencyUnavailable
from letslive.models.chat import FanoutBatch, ViewerRecount

SEND_BATCH_MAX: Final = 10  # SQS SendMessageBatch's limit
SEND_ATTEMPTS: Final = 3
MAX_DELAY_SECONDS: Final = 900  # SQS's limit


class SqsFanoutQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def enqueue(self, tasks: Sequence[FanoutBatch | ViewerRecount], delay_seconds: int = 0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from letslive.data.aws import client

        sqs: Any = client("sqs")
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        for start in range(0, len(tasks), SEND_BATCH_MAX):
            chunk = tasks[start : start + SEND_BATCH_MAX]
            pending = {str(index): task.model_dump_json() for index, task in enumerate(chunk, start)}
            for _ in range(SEND_ATTEMPTS):
                entries = [{"Id": key, "MessageBody": body, "DelaySeconds": delay} for key, body in pending.items()]
                try:
                    response = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                except (BotoCoreError, ClientError) as exc:
                    raise DependencyUnavailable(f"could not queue chat work: {exc}") from exc
                # Entries SQS refused one by one (throttled, internal error) are sent again.
                pending = {failure["Id"]: pending[failure["Id"]] for failure in response.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise DependencyUnavailable(f"could not queue {len(pending)} chat tasks")


def fanout_queue() -> SqsFanoutQueue | None:
    """The configured queue, or None where there is none (big rooms then fan out in-process)."""
    from letslive.settings import get_settings

    url = get_settings().chat_fanout_queue_url
    return SqsFanoutQueue(url) if url else None
