"""Fan patient events from SQS out to the websocket connections allowed to see them.

Each SQS message is one event published by ``triage_core.events``::

    {"type": "patient.created" | "patient.updated" | "alert.critical",
     "patient_id", "submitted_by", "risk_level", "occurred_at", "patient": {...}}

and each recipient gets ``{"type": ..., "patient": {...}}`` through the API Gateway
management API at ``WEBSOCKET_MANAGEMENT_URL``. The publisher already emits a
separate ``alert.critical`` event when a new score is critical, so this function
forwards that type as it is and never derives a second alert.

The event source mapping must have ``ReportBatchItemFailures`` on: a malformed
message or an unreachable management endpoint fails only that record, which SQS
redelivers after the visibility timeout and moves to the dead-letter queue after
``maxReceiveCount`` receives.
"""

# No ``from __future__ import annotations``: pydantic resolves string annotations
# through sys.modules, and local runners may import this file under any name.
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from triage_core.connections import (
    PATIENT_ID_PATTERN,
    ConnectionRecord,
    find_recipients,
    remove_connection,
)
from triage_core.settings import ConfigurationError, get_settings
from triage_core.storage import get_database

logger = Logger(service="triage-notify")
metrics = Metrics(namespace="TriagePlatform", service="triage-notify")
# A batch in which every record failed still returns batchItemFailures instead
# of raising, so the logs show one error per record and no batch traceback.
processor = BatchProcessor(
    event_type=EventType.SQS, raise_on_entire_batch_failure=False
)

# Concurrent post_to_connection calls per event; boto3 clients are thread-safe.
MAX_POST_WORKERS = 16


class PatientEvent(BaseModel):
    """One queue message; extra keys are ignored so publishers can add fields."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["patient.created", "patient.updated", "alert.critical"]
    patient_id: Annotated[str, Field(pattern=PATIENT_ID_PATTERN)]
    submitted_by: str | None = None
    risk_level: Literal["low", "moderate", "high", "critical"] | None = None
    occurred_at: datetime
    patient: dict[str, Any]


class MalformedEvent(ValueError):
    """A queue message that is not a valid patient event; it should reach the DLQ."""


@lru_cache(maxsize=1)
def management_client() -> Any:
    """Return the ``apigatewaymanagementapi`` client for WEBSOCKET_MANAGEMENT_URL.

    Raises ConfigurationError when the setting is empty, because there is no
    default endpoint for the management API.
    """
    endpoint = get_settings().websocket_management_url
    if not endpoint:
        raise ConfigurationError(
            "WEBSOCKET_MANAGEMENT_URL is empty; set it to the @connections base URL, "
            "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}"
        )
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint.rstrip("/"),
        config=Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 2, "mode": "standard"},
            # One pooled connection per posting thread; botocore's default of 10
            # made the other threads open and discard connections on every fan-out.
            max_pool_connections=MAX_POST_WORKERS,
        ),
    )


def parse_event(body: str) -> PatientEvent:
    """Validate one message body; raise MalformedEvent naming the invalid fields.

    The error names fields only, never their values, so no patient data is logged.
    """
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedEvent(f"body is not JSON: {exc.msg}") from None
    try:
        return PatientEvent.model_validate(payload)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()})
        raise MalformedEvent(f"invalid patient event fields: {fields}") from None


def deliver(event: PatientEvent) -> tuple[int, int]:
    """Post the event to every allowed subscriber; return (sent, dropped).

    A connection whose post fails with GoneException is deleted from
    `connections`. Other client errors drop that one message. Network errors
    (botocore's EndpointConnectionError and the like) propagate, so the record is
    retried.
    """
    db = get_database()
    recipients = find_recipients(db, event.patient_id, event.submitted_by)
    data = json.dumps({"type": event.type, "patient": event.patient}, default=str)
    client = management_client()
    outcomes: list[bool] = []
    if recipients:
        # Posts are independent HTTP calls, so a thread pool keeps a large board
        # from costing one round trip per connection in sequence.
        workers = min(MAX_POST_WORKERS, len(recipients))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(
                pool.map(lambda connection: _post(client, connection, data), recipients)
            )
    sent = outcomes.count(True)
    dropped = outcomes.count(False)
    logger.info(
        "event delivered",
        event_type=event.type,
        patient_id=event.patient_id,
        recipients=len(recipients),
        sent=sent,
        dropped=dropped,
    )
    return sent, dropped


def _post(client: Any, connection: ConnectionRecord, data: str) -> bool:
    try:
        client.post_to_connection(ConnectionId=connection.connection_id, Data=data)
    except client.exceptions.GoneException:
        removed = remove_connection(get_database(), connection.connection_id)
        logger.info(
            "connection gone; removed",
            connection_id=connection.connection_id,
            removed=removed,
        )
        return False
    except ClientError as exc:
        logger.warning(
            "post to connection failed",
            connection_id=connection.connection_id,
            error_code=exc.response.get("Error", {}).get("Code"),
        )
        return False
    return True


def record_handler(record: SQSRecord) -> None:
    """Deliver one SQS record; raising marks it as a batch item failure."""
    logger.set_correlation_id(record.message_id)
    try:
        event = parse_event(record.body)
    except MalformedEvent as exc:
        logger.error(
            "malformed event",
            message_id=record.message_id,
            receive_count=record.attributes.approximate_receive_count,
            reason=str(exc),
        )
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        raise
    sent, dropped = deliver(event)
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)
    metrics.add_metric(
        name="NotificationsDropped", unit=MetricUnit.Count, value=dropped
    )


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process an SQS batch and return ``batchItemFailures`` for the failed records."""
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
