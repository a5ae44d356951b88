"""One attempt to score a stored pending patient with the prediction function."""

from __future__ import annotations

import logging
from typing import Any

from pymongo.database import Database

from triage_core import patients, prediction

logger = logging.getLogger(__name__)


def score_once(db: Database, patient: dict[str, Any]) -> dict[str, Any] | None:
    """Try once to score a stored pending patient; return the updated document."""
    payload = {"id": patient["_id"], **patient["vitals"]}
    try:
        result = prediction.predict([payload]).get(patient["_id"])
    except prediction.PredictionUnavailable as exc:
        logger.warning("prediction failed patient_id=%s: %s", patient["_id"], exc)
        patients.record_failed_attempt(db, patient["_id"], str(exc))
        return None
    if result is None or "error" in result:
        reason = "no prediction returned" if result is None else str(result["error"])
        logger.warning("prediction rejected patient_id=%s", patient["_id"])
        patients.record_failed_attempt(db, patient["_id"], reason)
        return None
    return patients.store_prediction(db, patient["_id"], result)
