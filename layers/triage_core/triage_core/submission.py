"""Patient submission: validate, score NEWS2, store, predict, publish, audit.

The patient is stored before the prediction function is called, so a failed or slow
prediction never loses a submission: the record stays ``pending`` and is scored later
from the rescore queue (``triage_core.rescore``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from triage_core import audit, events, idempotency, patients, rescore
from triage_core.schemas import PatientVitals, parse
from triage_core.scoring import score_once

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmissionResult:
    patient: dict[str, Any]
    scored: bool
    replayed: bool
    prediction_ms: float | None = None  # wall time of the scoring attempt


def submit_patient(
    db: Database,
    user: dict[str, Any],
    body: Any,
    idempotency_key: str | None,
    request_id: str | None,
) -> SubmissionResult:
    """Store a new patient (or return the one an idempotent retry refers to)."""
    vitals = parse(PatientVitals, body)
    patient_id = None
    if idempotency_key is not None:
        reservation = idempotency.reserve(db, user["_id"], idempotency_key, body)
        patient_id = reservation.patient_id
        if reservation.replay:
            existing = db.patients.find_one({"_id": patient_id})
            if existing is not None:
                return SubmissionResult(existing, scored=False, replayed=True)

    patient = patients.build_patient(vitals, user["_id"], patient_id)
    try:
        patients.insert_patient(db, patient)
    except DuplicateKeyError:
        # A concurrent retry with the same key inserted it first.
        existing = db.patients.find_one({"_id": patient["_id"]})
        return SubmissionResult(existing, scored=False, replayed=True)
    audit.record(
        db,
        user=user,
        action="patient.create",
        patient_id=patient["_id"],
        request_id=request_id,
    )

    started = time.perf_counter()
    scored = score_once(db, patient)
    prediction_ms = (time.perf_counter() - started) * 1000
    current = scored or db.patients.find_one({"_id": patient["_id"]}) or patient
    if scored is None:
        rescore.enqueue(patient["_id"])
    events.publish_patient_event(
        events.PATIENT_CREATED, current, newly_scored=scored is not None
    )
    return SubmissionResult(
        current,
        scored=scored is not None,
        replayed=False,
        prediction_ms=prediction_ms,
    )


def rescore_pending(
    db: Database, limit: int = 50, older_than_seconds: float = 0
) -> int:
    """Score up to ``limit`` pending patients, oldest first; return how many succeeded.

    ``older_than_seconds`` leaves recent patients to the rescore queue's own retries.
    Each newly scored patient is published as an update (and an alert when
    critical), so the boards change live.
    """
    done = 0
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    pending = db.patients.find(
        {"prediction.state": patients.PENDING, "created_at": {"$lte": cutoff}},
        sort=[("created_at", 1)],
        limit=limit,
    )
    for patient in list(pending):
        updated = score_once(db, patient)
        if updated is not None:
            done += 1
            events.publish_patient_event(
                events.PATIENT_UPDATED, updated, newly_scored=True
            )
    return done
