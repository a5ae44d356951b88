"""Queue-driven retry of predictions that failed at submission time.

Each pending patient gets one message on ``RESCORE_QUEUE_URL``. The rescore function
tries to score it; on failure it pushes the message's visibility further out with
exponential back-off. After ``maxReceiveCount`` receives, the queue's redrive policy
moves the message to the dead-letter queue. The patient stays stored and pending
throughout, with its NEWS2 score; no risk number is ever invented.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pymongo.database import Database

from triage_core import events, patients
from triage_core.scoring import score_once
from triage_core.settings import get_settings

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 5
# SQS caps both DelaySeconds and a visibility change at these values.
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 43_200


class RescoreFailed(RuntimeError):
    """The prediction function is still unavailable, so the message must be retried."""


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs", config=Config(retries={"max_attempts": 3}))


def backoff_seconds(receive_count: int) -> int:
    """Return the wait before the next try: 5 s doubled per receive, at most 15 min."""
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** max(0, receive_count - 1))


def enqueue(patient_id: str) -> bool:
    """Queue a pending patient for scoring; return False if the queue is unreachable."""
    queue_url = get_settings().rescore_queue_url
    if not queue_url:
        return False
    try:
        _sqs().send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps({"patient_id": patient_id}),
            DelaySeconds=FIRST_DELAY_SECONDS,
        )
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "rescore enqueue failed patient_id=%s error=%s",
            patient_id,
            type(exc).__name__,
        )
        return False
    return True


def delay_redelivery(receipt_handle: str, receive_count: int) -> None:
    """Hide a failed message for the back-off time before SQS delivers it again."""
    queue_url = get_settings().rescore_queue_url
    try:
        _sqs().change_message_visibility(
            QueueUrl=queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=min(
                MAX_VISIBILITY_SECONDS, backoff_seconds(receive_count)
            ),
        )
    except (BotoCoreError, ClientError) as exc:
        # The queue's own visibility timeout then decides when the retry happens.
        logger.warning("visibility change failed: %s", type(exc).__name__)


def rescore(db: Database, patient_id: str) -> str:
    """Score one pending patient; return "scored", "already_scored" or "not_found".

    Raises ``RescoreFailed`` when the prediction function is still unavailable.
    """
    patient = db.patients.find_one({"_id": patient_id})
    if patient is None:
        logger.warning("rescore skipped: patient_id=%s not found", patient_id)
        return "not_found"
    if (patient.get("prediction") or {}).get("state") != patients.PENDING:
        return "already_scored"
    updated = score_once(db, patient)
    if updated is None:
        raise RescoreFailed(f"prediction still unavailable for {patient_id}")
    events.publish_patient_event(events.PATIENT_UPDATED, updated, newly_scored=True)
    logger.info("rescored patient_id=%s", patient_id)
    return "scored"
