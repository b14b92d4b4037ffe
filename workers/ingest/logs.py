"""JSON-lines logging on stdout, the format CloudWatch Logs Insights queries without parsing rules.

Stdlib only: the worker image does not carry the Lambda-side Powertools dependency.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

SERVICE = "ingest"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": SERVICE,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {key: value for key, value in record.__dict__.items() if key not in _RECORD_FIELDS}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", stream: TextIO = sys.stdout) -> None:
    """Send every log record of the process to `stream` as one JSON object per line."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # PynamoDB announces its settings file at INFO on every start; keep it for DEBUG.
    logging.getLogger("pynamodb").setLevel(level if level == "DEBUG" else "WARNING")
