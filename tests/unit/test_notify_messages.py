"""Validation of queue events (notify function) and of client websocket messages."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local.event_source import load_handler
from triage_core.connections import (
    BoardSubscription,
    InvalidClientMessage,
    PatientSubscription,
    parse_client_message,
)

REPO = Path(__file__).resolve().parents[2]
PATIENT_ID = "pat_" + "0a" * 16


def _load_notify() -> Any:
    load_handler(REPO / "functions" / "notify" / "handler.py", "notify_handler")
    return sys.modules["notify_handler"]


notify = _load_notify()


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "type": "patient.created",
        "patient_id": PATIENT_ID,
        "submitted_by": "usr_1",
        "risk_level": None,
        "occurred_at": "2026-12-04T15:00:00+00:00",
        "patient": {"id": PATIENT_ID, "news2_total": 7},
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not ...}


def test_event_parses_published_shape() -> None:
    event = notify.parse_event(json.dumps(_event(risk_level="critical")))
    assert event.type == "patient.created"
    assert event.patient_id == PATIENT_ID
    assert event.risk_level == "critical"
    assert event.patient == {"id": PATIENT_ID, "news2_total": 7}
    assert event.occurred_at.utcoffset() is not None


def test_event_ignores_extra_keys() -> None:
    event = notify.parse_event(json.dumps(_event(trace_id="abc")))
    assert event.submitted_by == "usr_1"


@pytest.mark.parametrize(
    ("body", "named_field"),
    [
        ("not json", None),
        (json.dumps(_event(type="patient.deleted")), "type"),
        (json.dumps(_event(patient_id="42")), "patient_id"),
        (json.dumps(_event(risk_level="extreme")), "risk_level"),
        (json.dumps(_event(patient=...)), "patient"),
        (json.dumps(_event(occurred_at="yesterday")), "occurred_at"),
        (json.dumps([1, 2]), "body"),
    ],
)
def test_event_malformed_raises(body: str, named_field: str | None) -> None:
    with pytest.raises(notify.MalformedEvent) as caught:
        notify.parse_event(body)
    if named_field is not None:
        assert named_field in str(caught.value)


def test_malformed_error_hides_values() -> None:
    body = json.dumps(_event(patient_id="Jane Doe, 71"))
    with pytest.raises(notify.MalformedEvent) as caught:
        notify.parse_event(body)
    assert "Jane" not in str(caught.value)


def test_board_subscription_parses() -> None:
    request = parse_client_message('{"action": "subscribe", "channel": "board"}')
    assert isinstance(request, BoardSubscription)


def test_patient_subscription_parses() -> None:
    body = json.dumps(
        {"action": "subscribe", "channel": "patient", "patient_id": PATIENT_ID}
    )
    request = parse_client_message(body)
    assert isinstance(request, PatientSubscription)
    assert request.patient_id == PATIENT_ID


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, None),
        ("", None),
        ("{", None),
        ('{"action": "subscribe"}', "channel"),
        ('{"action": "subscribe", "channel": "ward"}', "channel"),
        ('{"action": "publish", "channel": "board"}', "action"),
        ('{"action": "subscribe", "channel": "board", "x": 1}', "x"),
        ('{"action": "subscribe", "channel": "patient"}', "patient_id"),
        (
            '{"action": "subscribe", "channel": "patient", "patient_id": "p"}',
            "patient_id",
        ),
    ],
)
def test_client_message_invalid(body: str | None, field: str | None) -> None:
    with pytest.raises(InvalidClientMessage) as caught:
        parse_client_message(body)
    assert caught.value.field == field
    reply = caught.value.to_reply()
    assert reply["type"] == "error"
    assert reply["error"]["code"] == "validation_error"
    assert reply["error"]["field"] == field


def test_handler_loads_without_module_entry() -> None:
    # Runners may import the file without registering it in sys.modules; the
    # event model must still validate.
    spec = importlib.util.spec_from_file_location(
        "notify_unregistered", REPO / "functions" / "notify" / "handler.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = module.parse_event(json.dumps(_event()))
    assert event.patient_id == PATIENT_ID
