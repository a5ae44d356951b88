"""Publish patient events to the SQS queue that feeds the notification function."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from triage_core.settings import get_settings

logger = logging.getLogger(__name__)

PATIENT_CREATED = "patient.created"
PATIENT_UPDATED = "patient.updated"
ALERT_CRITICAL = "alert.critical"


@lru_cache(maxsize=1)
def _sqs_client() -> Any:
    # boto3 takes the endpoint from AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL when set.
    return boto3.client(
        "sqs", config=Config(retries={"max_attempts": 3, "mode": "standard"})
    )


def patient_summary(patient: dict[str, Any]) -> dict[str, Any]:
    """Return the board fields of a patient: what every subscriber may receive."""
    prediction = patient.get("prediction") or {}
    news2 = patient.get("news2") or {}
    vitals = patient.get("vitals") or {}
    return {
        "id": patient["_id"],
        "status": patient.get("status"),
        "age": vitals.get("age"),
        "sex": vitals.get("sex"),
        "chief_complaint": vitals.get("chief_complaint"),
        "news2_total": news2.get("total"),
        "news2_risk": news2.get("risk"),
        "news2_partial": news2.get("partial"),
        "news2_warnings": news2.get("warnings", []),
        "prediction_state": prediction.get("state"),
        "probability": prediction.get("probability"),
        "risk_level": prediction.get("risk_level"),
        "risk_sort": patient.get("risk_sort"),
        "assigned_doctor_id": patient.get("assigned_doctor_id"),
        "submitted_by": patient.get("submitted_by"),
        "created_at": _iso(patient.get("created_at")),
        "updated_at": _iso(patient.get("updated_at")),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def build_events(
    event_type: str, patient: dict[str, Any], *, newly_scored: bool = False
) -> list[dict[str, Any]]:
    """Return the event and, when a new score is critical, the separate alert event."""
    summary = patient_summary(patient)
    base = {
        "patient_id": patient["_id"],
        "submitted_by": patient.get("submitted_by"),
        "risk_level": summary["risk_level"],
        "occurred_at": datetime.now(UTC).isoformat(),
        "patient": summary,
    }
    events = [{"type": event_type, **base}]
    if newly_scored and summary["risk_level"] == "critical":
        events.append({"type": ALERT_CRITICAL, **base})
    return events


def publish_patient_event(
    event_type: str, patient: dict[str, Any], *, newly_scored: bool = False
) -> bool:
    """Send the events for one patient change; return False if the queue failed.

    A failure is logged and swallowed because the patient is already stored: a missed
    live update must never turn a saved submission into an error.
    """
    queue_url = get_settings().events_queue_url
    if not queue_url:
        return False
    entries = [
        {"Id": str(i), "MessageBody": json.dumps(event, default=str)}
        for i, event in enumerate(
            build_events(event_type, patient, newly_scored=newly_scored)
        )
    ]
    try:
        result = _sqs_client().send_message_batch(QueueUrl=queue_url, Entries=entries)
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "event publish failed patient_id=%s type=%s error=%s",
            patient["_id"],
            event_type,
            type(exc).__name__,
        )
        return False
    if result.get("Failed"):
        logger.error(
            "event publish partly failed patient_id=%s failed=%d",
            patient["_id"],
            len(result["Failed"]),
        )
        return False
    return True
