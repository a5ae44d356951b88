"""Live board updates end to end: HTTP submission -> SQS -> notify -> websocket.

Runs on the shared ``stack`` fixture: nx-27017, the moto server, the prediction
function under the Runtime Interface Emulator and the gateway process with the real
Chalice app and the SQS event source that runs the notify function. Clients are
``websockets`` connections; predictions are real, so a critical patient comes from
a real cohort row that the model scores as critical.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from pymongo.database import Database
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from infra.local.aws_resources import EVENTS_QUEUE
from infra.local.event_source import load_handler
from infra.local.lambda_context import LocalLambdaContext
from infra.local.stack import StackInfo
from tests.integration.roles_helpers import Account, create_account, login, submit
from triage_core import auth, connections, events, storage
from triage_core.settings import reset_settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# A row of the Danish validation cohort that the shipped model scores as
# critical (probability 0.135 against a cut-off of 0.0681).
CRITICAL_ROW = 1
# Rows the shipped model scores below critical, one per test that submits.
ROWS = {"board_b": 2, "board_a": 3, "watched": 4, "other": 5, "gone": 7, "dlq": 8}


def _load_notify() -> Any:
    load_handler(REPO / "functions" / "notify" / "handler.py", "notify_handler")
    return sys.modules["notify_handler"]


@dataclass
class LiveStack:
    api_url: str
    ws_url: str
    db: Database
    sqs: Any
    queue_url: str
    dead_letter_queue_url: str
    accounts: dict[str, Account]


def _clear_process_caches(notify: Any | None) -> None:
    reset_settings()
    storage.reset_client()
    auth.signing_key.cache_clear()
    events._sqs_client.cache_clear()
    connections._indexed_databases.clear()
    if notify is not None:
        notify.management_client.cache_clear()


@pytest.fixture(scope="module")
def live(stack: StackInfo) -> Iterator[LiveStack]:
    """Give this module the stack's settings, three clinicians and a fast queue.

    The events queue's visibility timeout drops to one second while this module
    runs, so a failed message returns to the event source quickly. The queue
    attribute decides, as it does for a Lambda event source mapping.
    """
    notify = None
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.moto_endpoint,
        region_name=stack.app_env["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sqs.set_queue_attributes(
        QueueUrl=stack.events_queue_url, Attributes={"VisibilityTimeout": "1"}
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            for name, value in stack.app_env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
            notify = _load_notify()
            _clear_process_caches(notify)
            tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
            admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
            accounts = {
                "DOCTOR": create_account(stack.api_url, admin, "DOCTOR", "ws-doctor"),
                "MEDIC_A": create_account(
                    stack.api_url, admin, "PARAMEDIC", "ws-medic-a"
                ),
                "MEDIC_B": create_account(
                    stack.api_url, admin, "PARAMEDIC", "ws-medic-b"
                ),
            }
            yield LiveStack(
                api_url=stack.api_url,
                ws_url=stack.websocket_url,
                db=stack.db(),
                sqs=sqs,
                queue_url=stack.events_queue_url,
                dead_letter_queue_url=stack.dead_letter_queue_url,
                accounts=accounts,
            )
        finally:
            sqs.set_queue_attributes(
                QueueUrl=stack.events_queue_url,
                Attributes={"VisibilityTimeout": str(EVENTS_QUEUE.visibility_timeout)},
            )
            _clear_process_caches(notify)


def _connect(live: LiveStack, account: Account | None) -> ClientConnection:
    query = f"?token={account.token}" if account is not None else ""
    return connect(live.ws_url + query, proxy=None, open_timeout=10)


def _subscribe(client: ClientConnection, **request: str) -> dict[str, Any]:
    client.send(json.dumps({"action": "subscribe", **request}))
    return json.loads(client.recv(timeout=10))


def _receive_until(
    client: ClientConnection,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """Read messages until one matches; return all read, the match last."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching message; received {received}")
        try:
            message = json.loads(client.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"no matching message; received {received}") from None
        received.append(message)
        if predicate(message):
            return received


def _about(patient_id: str, kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == kind and m["patient"]["id"] == patient_id


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the timeout")
        time.sleep(0.05)


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
def test_connect_rejects_bad_token(live: LiveStack, token: str | None) -> None:
    url = live.ws_url + (f"?token={token}" if token else "")
    with pytest.raises(InvalidStatus) as caught:
        connect(url, proxy=None, open_timeout=10)
    response = caught.value.response
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["code"] == "unauthorized"


def test_connect_rejects_expired_token(live: LiveStack) -> None:
    expired = auth._encode(live.accounts["DOCTOR"].user["id"], "DOCTOR", "access", -60)
    with pytest.raises(InvalidStatus) as caught:
        connect(f"{live.ws_url}?token={expired}", proxy=None, open_timeout=10)
    assert caught.value.response.status_code == 401
    assert json.loads(caught.value.response.body)["error"]["message"] == (
        "token expired; log in again"
    )


def test_connection_document_stored_and_removed(live: LiveStack) -> None:
    doctor = live.accounts["DOCTOR"]
    with _connect(live, doctor) as client:
        assert _subscribe(client, channel="board") == {
            "type": "subscribed",
            "channel": "board",
        }
        document = live.db.connections.find_one({"user_id": doctor.user["id"]})
        assert document is not None
        assert document["role"] == "DOCTOR"
        assert document["connection_id"] == document["_id"]
        assert document["subscriptions"] == [{"channel": "board"}]
        assert document["expires_at"] - document["connected_at"] == timedelta(hours=2)
    _wait_for(lambda: live.db.connections.find_one({"_id": document["_id"]}) is None)
    ttl = [
        index
        for index in live.db.connections.list_indexes()
        if dict(index["key"]) == {"expires_at": 1}
    ]
    assert len(ttl) == 1
    assert ttl[0]["expireAfterSeconds"] == 0


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ('{"action": "subscribe", "channel": "ward"}', "channel"),
        ('{"action": "subscribe", "channel": "patient"}', "patient_id"),
        ('{"action": "subscribe", "channel": "patient", "patient_id": "x"}', None),
        ('{"action": "unsubscribe", "channel": "board"}', "action"),
        ('{"action": "subscribe"}', "channel"),
        ("not json", None),
    ],
)
def test_invalid_message_gets_error_reply(
    live: LiveStack, message: str, field: str | None
) -> None:
    with _connect(live, live.accounts["MEDIC_A"]) as client:
        client.send(message)
        reply = json.loads(client.recv(timeout=10))
    assert reply["type"] == "error"
    assert reply["error"]["code"] == "validation_error"
    if field is not None:
        assert reply["error"]["field"] == field


def test_board_updates_follow_roles(live: LiveStack) -> None:
    doctor, medic_a, medic_b = (
        live.accounts[name] for name in ("DOCTOR", "MEDIC_A", "MEDIC_B")
    )
    with (
        _connect(live, doctor) as doctor_ws,
        _connect(live, medic_a) as medic_a_ws,
        _connect(live, medic_b) as medic_b_ws,
    ):
        for client in (doctor_ws, medic_a_ws, medic_b_ws):
            assert _subscribe(client, channel="board")["type"] == "subscribed"

        patient_b = submit(live.api_url, medic_b, row_index=ROWS["board_b"])
        doctor_seen = _receive_until(
            doctor_ws, _about(patient_b["id"], "patient.created")
        )
        medic_b_seen = _receive_until(
            medic_b_ws, _about(patient_b["id"], "patient.created")
        )
        assert doctor_seen[-1]["patient"]["submitted_by"] == medic_b.user["id"]
        assert (
            medic_b_seen[-1]["patient"]["news2_total"] == (patient_b["news2"]["total"])
        )
        assert set(doctor_seen[-1]) == {"type", "patient"}

        patient_a = submit(live.api_url, medic_a, row_index=ROWS["board_a"])
        medic_a_seen = _receive_until(
            medic_a_ws, _about(patient_a["id"], "patient.created")
        )
        _receive_until(doctor_ws, _about(patient_a["id"], "patient.created"))
        # Medic B's event was fanned out before medic A submitted, so anything
        # medic A received about it would arrive before his own patient.
        assert [m["patient"]["id"] for m in medic_a_seen] == [patient_a["id"]]


def test_patient_channel_gets_that_patient(live: LiveStack) -> None:
    doctor, medic_a = live.accounts["DOCTOR"], live.accounts["MEDIC_A"]
    watched = submit(live.api_url, medic_a, row_index=ROWS["watched"])
    other = submit(live.api_url, medic_a, row_index=ROWS["other"])
    with _connect(live, doctor) as doctor_ws:
        reply = _subscribe(doctor_ws, channel="patient", patient_id=watched["id"])
        assert reply == {
            "type": "subscribed",
            "channel": "patient",
            "patient_id": watched["id"],
        }
        for patient in (other, watched):
            response = requests.post(
                f"{live.api_url}/patients/{patient['id']}/status",
                json={"status": "arrived"},
                headers=doctor.headers,
                timeout=10,
            )
            assert response.status_code == 200, response.text
        seen = _receive_until(doctor_ws, _about(watched["id"], "patient.updated"))
    assert [m["patient"]["id"] for m in seen] == [watched["id"]]
    assert seen[-1]["patient"]["status"] == "arrived"


def test_critical_patient_raises_alert(live: LiveStack) -> None:
    doctor, medic_a, medic_b = (
        live.accounts[name] for name in ("DOCTOR", "MEDIC_A", "MEDIC_B")
    )
    with (
        _connect(live, doctor) as doctor_ws,
        _connect(live, medic_a) as medic_a_ws,
        _connect(live, medic_b) as medic_b_ws,
    ):
        _subscribe(doctor_ws, channel="board")
        _subscribe(medic_a_ws, channel="board")
        _subscribe(medic_b_ws, channel="board")
        patient = submit(live.api_url, medic_a, row_index=CRITICAL_ROW)
        assert patient["prediction"]["risk_level"] == "critical"
        seen = _receive_until(doctor_ws, _about(patient["id"], "alert.critical"))
        medic_a_seen = _receive_until(
            medic_a_ws, _about(patient["id"], "alert.critical")
        )
        # Medic B may not see another medic's patient, so his next message is
        # the error reply to this invalid request.
        medic_b_ws.send("ping")
        medic_b_reply = json.loads(medic_b_ws.recv(timeout=10))
    kinds = [m["type"] for m in seen if m["patient"]["id"] == patient["id"]]
    assert kinds == ["patient.created", "alert.critical"]
    assert seen[-1]["patient"]["risk_level"] == "critical"
    assert seen[-1]["patient"]["probability"] == patient["prediction"]["probability"]
    assert [m["type"] for m in medic_a_seen] == ["patient.created", "alert.critical"]
    assert medic_b_reply["type"] == "error"


def test_gone_connection_removed_after_send(live: LiveStack) -> None:
    doctor, medic_a = live.accounts["DOCTOR"], live.accounts["MEDIC_A"]
    with _connect(live, doctor) as stale_ws:
        _subscribe(stale_ws, channel="board")
        stale = live.db.connections.find_one(
            {"user_id": doctor.user["id"], "subscriptions.channel": "board"}
        )
    assert stale is not None
    _wait_for(lambda: live.db.connections.find_one({"_id": stale["_id"]}) is None)
    # A lost $disconnect leaves the document behind; the next send must clean it.
    live.db.connections.insert_one(stale)
    with _connect(live, doctor) as doctor_ws:
        _subscribe(doctor_ws, channel="board")
        patient = submit(live.api_url, medic_a, row_index=ROWS["gone"])
        _receive_until(doctor_ws, _about(patient["id"], "patient.created"))
        _wait_for(lambda: live.db.connections.find_one({"_id": stale["_id"]}) is None)


def test_poison_message_lands_in_dlq(live: LiveStack) -> None:
    doctor, medic_a = live.accounts["DOCTOR"], live.accounts["MEDIC_A"]
    poison = live.sqs.send_message(
        QueueUrl=live.queue_url, MessageBody='{"type": "patient.created"}'
    )["MessageId"]
    with _connect(live, doctor) as doctor_ws:
        _subscribe(doctor_ws, channel="board")
        patient = submit(live.api_url, medic_a, row_index=ROWS["dlq"])
        _receive_until(doctor_ws, _about(patient["id"], "patient.created"))

    dead: list[dict[str, Any]] = []

    def poison_in_dlq() -> bool:
        response = live.sqs.receive_message(
            QueueUrl=live.dead_letter_queue_url,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        )
        dead.extend(response.get("Messages", []))
        return any(message["MessageId"] == poison for message in dead)

    _wait_for(poison_in_dlq, timeout=30)
    message = next(m for m in dead if m["MessageId"] == poison)
    assert message["Body"] == '{"type": "patient.created"}'
    assert (
        int(message["Attributes"]["ApproximateReceiveCount"])
        >= EVENTS_QUEUE.max_receive_count
    )


@pytest.mark.parametrize(
    ("message_ids", "failed"),
    [
        (["good-1", "bad-1", "good-2"], ["bad-1"]),
        (["bad-1", "bad-2"], ["bad-1", "bad-2"]),
    ],
)
def test_notify_reports_only_bad_records(
    live: LiveStack, message_ids: list[str], failed: list[str]
) -> None:
    notify = sys.modules["notify_handler"]
    good = {
        "type": "patient.updated",
        "patient_id": "pat_" + "1f" * 16,
        "submitted_by": live.accounts["MEDIC_A"].user["id"],
        "risk_level": None,
        "occurred_at": "2026-12-04T15:00:00+00:00",
        "patient": {"id": "pat_" + "1f" * 16},
    }
    records = [
        {
            "messageId": message_id,
            "receiptHandle": f"handle-{message_id}",
            "body": json.dumps(good) if message_id.startswith("good") else "{oops",
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:events",
            "awsRegion": "eu-north-1",
        }
        for message_id in message_ids
    ]
    context = LocalLambdaContext(function_name="notify")
    result = notify.lambda_handler({"Records": records}, context)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]
    }
