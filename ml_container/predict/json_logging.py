"""JSON log lines for the prediction function, in the shape Powertools Logger writes.

The function uses the standard library rather than Powertools Logger: importing
`aws_lambda_powertools.logging` took about 60 ms on the development machine (Python
3.11, `-X importtime`), over a tenth of the 0.5 s cold-start budget. It would also add
Powertools and its dependencies to an image that otherwise needs only numpy, scipy and
xgboost. The keys below (`level`, `location`, `message`, `timestamp`, `service`,
`function_request_id`) match Powertools' defaults, so the same CloudWatch queries work.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "triage-predict")
# Fields a caller may attach with `extra=`. Any other field is left out of the line, so
# a stray patient field passed by mistake is not written.
EXTRA_KEYS = (
    "function_request_id",
    "patients",
    "errors",
    "duration_ms",
    "model_version",
    "action",
    "invalid_fields",
)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "service": SERVICE,
        }
        for key in EXTRA_KEYS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def get_logger(name: str) -> logging.Logger:
    """Return a logger that writes JSON lines to stdout at LOG_LEVEL (default INFO)."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
        logger.propagate = False
    return logger
