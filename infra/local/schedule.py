"""A local stand-in for the EventBridge schedule that runs the rescore sweep.

In AWS, ``rate(5 minutes)`` invokes the rescore function with a scheduled event;
here a daemon thread does the same with an event of the same shape.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 300.0


def scheduled_event() -> dict[str, Any]:
    """Return an event shaped like EventBridge's ``Scheduled Event``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-north-1",
        "resources": ["arn:aws:events:eu-north-1:000000000000:rule/local-sweep"],
        "detail": {},
    }


class Schedule:
    """Invoke ``handler`` every ``interval_seconds`` until ``stop`` is called."""

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        function_name: str,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self._handler = handler
        self._function_name = function_name
        self._interval = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"schedule-{function_name}", daemon=True
        )

    def start(self) -> Schedule:
        logger.info(
            "schedule started for %s every %.0f s", self._function_name, self._interval
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)
        logger.info("schedule stopped for %s", self._function_name)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            context = LocalLambdaContext(function_name=self._function_name)
            try:
                self._handler(scheduled_event(), context)
            except Exception:  # noqa: BLE001 - a failed run must not end the timer
                logger.exception("scheduled %s run failed", self._function_name)
