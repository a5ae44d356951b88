"""Score patients whose prediction failed at submission, from the rescore queue.

The function is SQS-triggered with ``ReportBatchItemFailures``. A patient that the
prediction function still cannot score fails only its own record, and its next
delivery is pushed out with exponential back-off. After the queue's
``maxReceiveCount`` the message lands in the dead-letter queue, while the patient
stays stored as pending with its NEWS2.

A scheduled sweep (EventBridge in AWS, a timer in the local gateway) also scores
patients that stayed pending for ten minutes, so patients whose messages ran out
of retries are scored once the prediction function is back.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from triage_core.rescore import RescoreFailed, delay_redelivery, rescore
from triage_core.storage import get_database
from triage_core.submission import rescore_pending

logger = Logger(service="triage-rescore")
metrics = Metrics(namespace="TriagePlatform", service="triage-rescore")
processor = BatchProcessor(event_type=EventType.SQS)


class RescoreMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    patient_id: str = Field(pattern=r"^pat_[0-9a-f]{32}$")


def record_handler(record: SQSRecord) -> str:
    message = RescoreMessage.model_validate(json.loads(record.body))
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        outcome = rescore(get_database(), message.patient_id)
    except RescoreFailed:
        logger.warning(
            "rescore failed, will retry",
            extra={"patient_id": message.patient_id, "receive_count": receive_count},
        )
        metrics.add_metric(name="RescoreRetries", unit=MetricUnit.Count, value=1)
        delay_redelivery(record.receipt_handle, receive_count)
        raise
    metrics.add_metric(name=f"Rescore_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


# A scheduled sweep leaves patients younger than this to the queue's own retries.
SWEEP_MIN_AGE_SECONDS = 600
SWEEP_LIMIT = 200


def is_scheduled(event: dict[str, Any]) -> bool:
    """Tell an EventBridge schedule event from an SQS batch."""
    return event.get("source") == "aws.events" or "Records" not in event


def sweep() -> dict[str, Any]:
    """Score patients still pending after their queue retries ended in the DLQ."""
    rescored = rescore_pending(
        get_database(), limit=SWEEP_LIMIT, older_than_seconds=SWEEP_MIN_AGE_SECONDS
    )
    logger.info("sweep finished", extra={"rescored": rescored})
    metrics.add_metric(name="RescoreSweepScored", unit=MetricUnit.Count, value=rescored)
    return {"rescored": rescored}


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle an SQS batch from the rescore queue, or a scheduled sweep."""
    if is_scheduled(event):
        return sweep()
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
