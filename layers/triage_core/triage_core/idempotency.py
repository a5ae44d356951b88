"""Idempotency keys for ``POST /patients``: a retried request returns the first record.

The key is scoped to the submitting user. It is stored with the SHA-256 of the
request body and the patient id reserved for it, so a retry after a crash between the
reservation and the patient insert still creates exactly one patient.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from triage_core.errors import Conflict, ValidationFailed
from triage_core.patients import new_patient_id
from triage_core.settings import get_settings

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


@dataclass(frozen=True)
class Reservation:
    patient_id: str
    replay: bool  # True when the key was seen before with the same body


def body_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reserve(db: Database, user_id: str, key: str, body: dict[str, Any]) -> Reservation:
    """Reserve a patient id for ``key`` or return the id reserved by the first request.

    Raises ``Conflict`` when the same key arrives with a different body.
    """
    if not KEY_PATTERN.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 8 to 128 characters of letters, digits, '_', '.', "
            "':' or '-'",
            field="Idempotency-Key",
        )
    digest = body_hash(body)
    now = datetime.now(UTC)
    doc = {
        "_id": f"{user_id}:{key}",
        "request_hash": digest,
        "patient_id": new_patient_id(),
        "created_at": now,
        "expires_at": now + timedelta(seconds=get_settings().idempotency_ttl_seconds),
    }
    try:
        db.idempotency.insert_one(doc)
        return Reservation(patient_id=doc["patient_id"], replay=False)
    except DuplicateKeyError:
        existing = db.idempotency.find_one({"_id": doc["_id"]})
    if existing is None:
        # Expired between the insert and the read: treat as new by retrying once.
        return reserve(db, user_id, key, body)
    if existing["request_hash"] != digest:
        raise Conflict(
            "Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
        )
    return Reservation(patient_id=existing["patient_id"], replay=True)
