"""Patient records: creation with NEWS2, prediction results, workflow and listings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from pymongo.database import Database

from triage_core.access import (
    OPEN_STATUSES,
    TRANSITIONS,
    check_transition,
    patient_scope,
)
from triage_core.errors import Conflict, NotFound, ValidationFailed
from triage_core.news2 import score_news2
from triage_core.schemas import PatientQuery, PatientVitals, Role
from triage_core.storage import WriteConflict, modify

PENDING = "pending"
SCORED = "scored"
# risk_sort of a patient without a model score: below every probability, so the
# board shows scored patients first and pending ones by arrival time after them.
UNSCORED_SORT = -1.0


def new_patient_id() -> str:
    return "pat_" + uuid.uuid4().hex


def build_patient(
    vitals: PatientVitals, submitted_by: str, patient_id: str | None = None
) -> dict[str, Any]:
    """Return a new patient document with NEWS2 and a pending prediction."""
    now = datetime.now(UTC)
    values = vitals.model_dump()
    return {
        "_id": patient_id or new_patient_id(),
        "vitals": values,
        "news2": score_news2(values).to_dict(),
        "prediction": {"state": PENDING, "attempts": 0},
        "risk_sort": UNSCORED_SORT,
        "status": "incoming",
        "assigned_doctor_id": None,
        "submitted_by": submitted_by,
        "notes": [],
        "history": [],
        "created_at": now,
        "updated_at": now,
        "version": 0,
    }


def prediction_fields(result: dict[str, Any], attempts: int) -> dict[str, Any]:
    """Turn one result of the prediction function into the stored ``prediction``."""
    return {
        "state": SCORED,
        "probability": float(result["probability"]),
        "risk_level": str(result["risk_level"]),
        "model_version": str(result.get("model_version", "")),
        "reasons": list(result.get("reasons", [])),
        "warnings": list(result.get("warnings", [])),
        "scored_at": datetime.now(UTC),
        "attempts": attempts,
    }


def store_prediction(
    db: Database, patient_id: str, result: dict[str, Any]
) -> dict[str, Any] | None:
    """Save a score on a patient that is still pending; return the updated document.

    Returns None when the patient is gone or another writer scored it first, so a
    retry never overwrites a newer score.
    """
    scored: list[bool] = []

    def apply(doc: dict[str, Any]) -> dict[str, Any] | None:
        previous = doc.get("prediction") or {}
        if previous.get("state") != PENDING:
            return None
        fields = prediction_fields(result, int(previous.get("attempts", 0)) + 1)
        doc["prediction"] = fields
        doc["risk_sort"] = fields["probability"]
        doc["updated_at"] = datetime.now(UTC)
        scored.append(True)
        return doc

    updated = _modify(db, patient_id, apply)
    return updated if scored else None


def record_failed_attempt(db: Database, patient_id: str, reason: str) -> None:
    def apply(doc: dict[str, Any]) -> dict[str, Any] | None:
        prediction = doc.get("prediction") or {}
        if prediction.get("state") != PENDING:
            return None
        prediction["attempts"] = int(prediction.get("attempts", 0)) + 1
        prediction["last_error"] = reason[:200]
        prediction["last_attempt_at"] = datetime.now(UTC)
        doc["prediction"] = prediction
        return doc

    _modify(db, patient_id, apply)


def _modify(db: Database, patient_id: str, apply: Any) -> dict[str, Any] | None:
    try:
        return modify(db.patients, patient_id, apply)
    except WriteConflict:
        raise Conflict(
            "the patient is being changed by others; reload and retry"
        ) from None


def insert_patient(db: Database, doc: dict[str, Any]) -> None:
    db.patients.insert_one(doc)


def get_patient(db: Database, patient_id: str) -> dict[str, Any]:
    doc = db.patients.find_one({"_id": patient_id})
    if doc is None:
        raise NotFound(f"patient {patient_id} not found", field="id")
    return doc


def list_patients(
    db: Database, user: dict[str, Any], query: PatientQuery
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of visible patients, highest ICU risk first."""
    mongo_filter: dict[str, Any] = dict(patient_scope(user))
    if query.status:
        mongo_filter["status"] = query.status.value
    if query.risk_level == PENDING:
        mongo_filter["prediction.state"] = PENDING
    elif query.risk_level:
        mongo_filter["prediction.risk_level"] = query.risk_level
    if query.submitted_by:
        if "submitted_by" in mongo_filter and mongo_filter["submitted_by"] != (
            query.submitted_by
        ):
            return [], 0
        mongo_filter["submitted_by"] = query.submitted_by
    created: dict[str, datetime] = {}
    if query.since:
        created["$gte"] = _utc(query.since)
    if query.until:
        created["$lt"] = _utc(query.until)
    if created:
        mongo_filter["created_at"] = created
    total = db.patients.count_documents(mongo_filter)
    cursor = (
        db.patients.find(mongo_filter)
        .sort([("risk_sort", -1), ("created_at", -1), ("_id", 1)])
        .skip((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return list(cursor), total


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _history(by: str, field: str, old: Any, new: Any) -> dict[str, Any]:
    return {"at": datetime.now(UTC), "by": by, "field": field, "old": old, "new": new}


def assign_doctor(
    db: Database, patient: dict[str, Any], doctor_id: str, by: str
) -> dict[str, Any]:
    doctor = db.users.find_one({"_id": doctor_id})
    if doctor is None or doctor.get("role") != Role.DOCTOR.value:
        raise ValidationFailed(
            f"doctor_id={doctor_id!r} is not a doctor's account", field="doctor_id"
        )
    if not doctor.get("active", False):
        raise ValidationFailed(
            f"doctor_id={doctor_id!r} belongs to an inactive account", field="doctor_id"
        )
    old = patient.get("assigned_doctor_id")
    return _update(
        db,
        patient,
        {"assigned_doctor_id": doctor_id},
        _history(by, "assigned_doctor_id", old, doctor_id),
        expected={"assigned_doctor_id": old},
    )


def change_status(
    db: Database, patient: dict[str, Any], new_status: str, by: str
) -> dict[str, Any]:
    old = patient["status"]
    if not check_transition(old, new_status):
        allowed = sorted(TRANSITIONS.get(old, frozenset()))
        next_steps = ", ".join(allowed) if allowed else "none (the episode has ended)"
        raise Conflict(
            f"status cannot change from {old} to {new_status}; allowed next: "
            f"{next_steps}",
            field="status",
        )
    return _update(
        db,
        patient,
        {"status": new_status},
        _history(by, "status", old, new_status),
        expected={"status": old},
    )


def add_note(
    db: Database, patient: dict[str, Any], text: str, by: str
) -> dict[str, Any]:
    note = {
        "id": "note_" + uuid.uuid4().hex,
        "author_id": by,
        "text": text,
        "created_at": datetime.now(UTC),
    }
    return _update(
        db, patient, {}, _history(by, "notes", None, note["id"]), {}, note=note
    )


def _update(
    db: Database,
    patient: dict[str, Any],
    changes: dict[str, Any],
    history: dict[str, Any],
    expected: dict[str, Any],
    note: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply a change and append to the history and notes.

    Raises ``Conflict`` when a field in ``expected`` no longer has the value the
    change was based on, for example a status another doctor already changed.
    """

    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        if any(doc.get(key) != value for key, value in expected.items()):
            raise Conflict("the patient changed meanwhile; reload and retry")
        doc.update(changes)
        doc["history"] = [*doc.get("history", []), history]
        if note is not None:
            doc["notes"] = [*doc.get("notes", []), note]
        doc["updated_at"] = datetime.now(UTC)
        return doc

    updated = _modify(db, patient["_id"], apply)
    if updated is None:
        raise NotFound(f"patient {patient['_id']} not found", field="id")
    return updated


def _counts(db: Database, match: dict[str, Any], field: str) -> dict[str, int]:
    pipeline = [{"$match": match}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    return {
        str(row["_id"]) if row["_id"] is not None else PENDING: int(row["n"])
        for row in db.patients.aggregate(pipeline)
    }


def stats(db: Database, user: dict[str, Any]) -> dict[str, Any]:
    """Return counts by risk level and status, today's arrivals and open critical."""
    scope = dict(patient_scope(user))
    today = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    return {
        "by_risk_level": _counts(db, scope, "prediction.risk_level"),
        "by_status": _counts(db, scope, "status"),
        "arrivals_today": db.patients.count_documents(
            {**scope, "created_at": {"$gte": today}}
        ),
        "open_critical": db.patients.count_documents(
            {
                **scope,
                "prediction.risk_level": "critical",
                "status": {"$in": list(OPEN_STATUSES)},
            }
        ),
        "total": db.patients.count_documents(scope),
    }


def public_patient(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the API representation: ``id`` instead of ``_id``."""
    out = {key: value for key, value in doc.items() if key != "_id"}
    return {"id": doc["_id"], **out}
