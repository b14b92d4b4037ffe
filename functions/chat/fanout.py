"""Lambda entry point of the chat fan-out workers: SQS batches of a big room's fan-out, and
delayed viewer recounts. A record that fails is reported back to SQS (partial batch response)
and retried, then dead-lettered; a record that does not parse is dropped with a log line."""

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from functions.common.observability import Observability
from letslive.constants import ChatMetric, Service
from letslive.models.chat import FanoutBatch, parse_task
from letslive.services.chat import ChatService, chat_service

observability = Observability(Service.CHAT.value)
logger, metrics = observability.logger, observability.metrics
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _chat() -> ChatService:
    return chat_service()


def _record(record: SQSRecord) -> None:
    try:
        task = parse_task(record.body)
    except ValidationError:
        logger.error("dropping a fan-out message that does not parse", extra={"message_id": record.message_id})
        return
    chat = _chat()
    if isinstance(task, FanoutBatch):
        report = chat.fanout.deliver_batch(task)
        metrics.add_metric(name=ChatMetric.FANOUT_DELIVERED, unit=MetricUnit.Count, value=report.delivered)
        metrics.add_metric(name=ChatMetric.FANOUT_GONE, unit=MetricUnit.Count, value=len(report.gone))
    else:
        chat.count_viewers(task.channel, force=True)


@observability.entry_point()
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))
