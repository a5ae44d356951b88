"""Append-only audit trail of every read and write of a patient record."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

logger = logging.getLogger(__name__)


def record(
    db: Database,
    *,
    user: dict[str, Any] | None,
    action: str,
    patient_id: str | None,
    request_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert one audit entry; ``detail`` must never hold patient fields.

    ``user`` is None for an action without a known account, such as a login attempt
    for an unregistered email.
    """
    db.audit.insert_one(
        {
            "at": datetime.now(UTC),
            "user_id": user["_id"] if user else None,
            "role": user["role"] if user else None,
            "action": action,
            "patient_id": patient_id,
            "request_id": request_id,
            "detail": detail or {},
        }
    )


def list_entries(
    db: Database,
    *,
    patient_id: str | None,
    user_id: str | None,
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int]:
    query: dict[str, Any] = {}
    if patient_id:
        query["patient_id"] = patient_id
    if user_id:
        query["user_id"] = user_id
    total = db.audit.count_documents(query)
    cursor = (
        db.audit.find(query)
        .sort([("at", -1), ("_id", -1)])
        .skip((page - 1) * page_size)
        .limit(page_size)
    )
    entries = []
    for doc in cursor:
        doc["id"] = str(doc.pop("_id"))
        entries.append(doc)
    return entries, total
