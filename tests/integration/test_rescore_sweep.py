"""The scheduled rescore sweep scores patients left pending after their retries."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.lambda_context import LocalLambdaContext
from infra.local.schedule import scheduled_event
from tests.integration.roles_helpers import validation_vitals
from triage_core import events, prediction, storage
from triage_core.news2 import score_news2
from triage_core.patients import new_patient_id
from triage_core.settings import reset_settings

pytestmark = pytest.mark.slow

HANDLER_FILE = Path(__file__).resolve().parents[2] / "functions/rescore/handler.py"


def _reset_clients() -> None:
    reset_settings()
    storage.reset_client()
    prediction._lambda_client.cache_clear()
    events._sqs_client.cache_clear()


@pytest.fixture
def rescore_handler(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Load the rescore function in-process with the stack's settings."""
    for name, value in stack.app_env.items():
        monkeypatch.setenv(name, value)
    _reset_clients()
    spec = importlib.util.spec_from_file_location("rescore_sweep_handler", HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.handler
    monkeypatch.undo()
    _reset_clients()


def _pending_patient(age_minutes: float) -> dict[str, Any]:
    vitals = {**validation_vitals(3), "spo2_scale": 1}
    created = datetime.now(UTC) - timedelta(minutes=age_minutes)
    return {
        "_id": new_patient_id(),
        "vitals": vitals,
        "news2": score_news2(vitals).to_dict(),
        "prediction": {"state": "pending", "attempts": 6},
        "risk_sort": -1.0,
        "status": "incoming",
        "assigned_doctor_id": None,
        "submitted_by": "usr_" + "0" * 32,
        "notes": [],
        "history": [],
        "created_at": created,
        "updated_at": created,
        "version": 0,
    }


def test_sweep_scores_old_pending_only(stack: Any, rescore_handler: Any) -> None:
    db = stack.db()
    old = _pending_patient(age_minutes=30)
    recent = _pending_patient(age_minutes=1)
    db.patients.insert_many([old, recent])

    result = rescore_handler(
        scheduled_event(), LocalLambdaContext(function_name="rescore")
    )

    assert result["rescored"] >= 1
    stored_old = db.patients.find_one({"_id": old["_id"]})
    stored_recent = db.patients.find_one({"_id": recent["_id"]})
    assert stored_old["prediction"]["state"] == "scored"
    assert 0.0 <= stored_old["prediction"]["probability"] <= 1.0
    assert stored_old["risk_sort"] == stored_old["prediction"]["probability"]
    assert stored_old["prediction"]["attempts"] == 7
    assert stored_recent["prediction"]["state"] == "pending"
