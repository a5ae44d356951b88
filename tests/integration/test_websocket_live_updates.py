"""Live board updates end to end: HTTP submission -> SQS -> notify -> websocket.

Real components only: nx-27017 over a socket, the moto server for SQS, the gateway
process (``infra.local.serve``) with the real Chalice app on uvicorn and the SQS
event source that runs the notify function inside it, and ``websockets`` clients.
The prediction function is not running, so submitted patients stay ``pending``;
the critical-alert test scores a stored patient the way ``rescore_pending`` does.
"""

from __future__ import annotations

import json
import secrets
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
from pymongo import MongoClient
from pymongo.database import Database
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from infra.local.aws_resources import EVENTS_QUEUE, create_resources
from infra.local.event_source import load_handler
from infra.local.lambda_context import LocalLambdaContext
from infra.local.services import (
    ChildProcess,
    environ_with,
    find_free_port,
    http_probe,
    start_process,
    stop_process,
    tcp_probe,
    wait_until_healthy,
)
from tests.integration.roles_helpers import Account, login, submit
from triage_core import auth, connections, events, patients, storage
from triage_core.schemas import UserCreate
from triage_core.settings import reset_settings
from triage_core.users import create_user

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
REGION = "us-east-1"
JWT_KEY = secrets.token_urlsafe(48)


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


def _account(api_url: str, db: Database, role: str, label: str) -> Account:
    password = secrets.token_urlsafe(16)
    email = f"{label}@hospital.example"
    create_user(
        db,
        UserCreate(email=email, name=label, role=role, password=password),
        created_by=None,
    )
    tokens = login(api_url, email, password)
    return Account(role, tokens["user"], tokens["access_token"], password)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("live")
    mongo_port, moto_port, gateway_port = (find_free_port() for _ in range(3))
    children: list[ChildProcess] = []
    notify = None
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            children.append(
                start_process(
                    "nx-27017",
                    [
                        str(VENV_BIN / "nx-27017"),
                        "--data-dir",
                        str(tmp / "mongo"),
                        "--host",
                        "127.0.0.1",
                        "-p",
                        str(mongo_port),
                        "--log-file",
                        str(tmp / "mongo.log"),
                        "--pid-file",
                        str(tmp / "mongo.pid"),
                    ],
                    tmp / "mongo.out",
                )
            )
            children.append(
                start_process(
                    "moto",
                    [
                        str(VENV_BIN / "moto_server"),
                        "-H",
                        "127.0.0.1",
                        "-p",
                        str(moto_port),
                    ],
                    tmp / "moto.log",
                )
            )
            (tmp / "mongo").mkdir(exist_ok=True)
            wait_until_healthy("nx-27017", tcp_probe(mongo_port), 20, children[0])
            moto_url = f"http://127.0.0.1:{moto_port}"
            wait_until_healthy(
                "moto", http_probe(moto_url + "/moto-api/"), 20, children[1]
            )
            resources = create_resources(moto_url, REGION, JWT_KEY)
            # One second instead of a minute, so a failed message comes back to
            # the gateway's event source quickly. The queue attribute decides, as
            # it does for a Lambda event source mapping.
            boto3.client(
                "sqs",
                endpoint_url=moto_url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            ).set_queue_attributes(
                QueueUrl=resources.events_queue_url,
                Attributes={"VisibilityTimeout": "1"},
            )
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            settings = {
                "MONGODB_URI": f"mongodb://127.0.0.1:{mongo_port}",
                "MONGODB_DB": "triage_live",
                "JWT_SECRET": JWT_KEY,
                "EVENTS_QUEUE_URL": resources.events_queue_url,
                "WEBSOCKET_MANAGEMENT_URL": f"{gateway_url}/local",
                "PREDICT_TIMEOUT_SECONDS": "1",
                "AWS_ENDPOINT_URL": moto_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "POWERTOOLS_METRICS_NAMESPACE": "TriagePlatform",
            }
            for name, value in settings.items():
                monkeypatch.setenv(name, value)
            children.append(
                start_process(
                    "gateway",
                    [
                        str(VENV_BIN / "python"),
                        "-m",
                        "infra.local.serve",
                        "--port",
                        str(gateway_port),
                    ],
                    tmp / "gateway.log",
                    env=environ_with(
                        {
                            **settings,
                            "PYTHONPATH": (
                                f"{REPO}/layers/triage_core:{REPO}/functions/api:{REPO}"
                            ),
                        }
                    ),
                    cwd=REPO,
                )
            )
            wait_until_healthy(
                "gateway",
                http_probe(gateway_url + "/api/openapi.json"),
                30,
                children[2],
            )
            notify = _load_notify()
            _clear_process_caches(notify)
            db = MongoClient(settings["MONGODB_URI"], tz_aware=True)[
                settings["MONGODB_DB"]
            ]
            api_url = gateway_url + "/api"
            accounts = {
                "DOCTOR": _account(api_url, db, "DOCTOR", "doctor"),
                "MEDIC_A": _account(api_url, db, "PARAMEDIC", "medic-a"),
                "MEDIC_B": _account(api_url, db, "PARAMEDIC", "medic-b"),
            }
            sqs = boto3.client("sqs")
            yield LiveStack(
                api_url=api_url,
                ws_url=gateway_url.replace("http", "ws") + "/ws",
                db=db,
                sqs=sqs,
                queue_url=resources.events_queue_url,
                dead_letter_queue_url=resources.dead_letter_queue_url,
                accounts=accounts,
            )
        finally:
            for child in reversed(children):
                stop_process(child)
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

        patient_b = submit(live.api_url, medic_b, row_index=2)
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

        patient_a = submit(live.api_url, medic_a, row_index=3)
        medic_a_seen = _receive_until(
            medic_a_ws, _about(patient_a["id"], "patient.created")
        )
        _receive_until(doctor_ws, _about(patient_a["id"], "patient.created"))
        # Medic B's event was fanned out before medic A submitted, so anything
        # medic A received about it would arrive before his own patient.
        assert [m["patient"]["id"] for m in medic_a_seen] == [patient_a["id"]]


def test_patient_channel_gets_that_patient(live: LiveStack) -> None:
    doctor, medic_a = live.accounts["DOCTOR"], live.accounts["MEDIC_A"]
    watched = submit(live.api_url, medic_a, row_index=4)
    other = submit(live.api_url, medic_a, row_index=5)
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
    patient = submit(live.api_url, medic_a, row_index=6)
    with (
        _connect(live, doctor) as doctor_ws,
        _connect(live, medic_b) as medic_b_ws,
    ):
        _subscribe(doctor_ws, channel="board")
        _subscribe(medic_b_ws, channel="patient", patient_id=patient["id"])
        scored = patients.store_prediction(
            live.db,
            patient["id"],
            {
                "probability": 0.62,
                "risk_level": "critical",
                "model_version": "xgb-test",
                "reasons": [],
                "warnings": [],
            },
        )
        assert events.publish_patient_event(
            events.PATIENT_UPDATED, scored, newly_scored=True
        )
        seen = _receive_until(doctor_ws, _about(patient["id"], "alert.critical"))
        # Medic B subscribed to the patient but may not see another medic's patient.
        medic_b_ws.send("ping")
        medic_b_reply = json.loads(medic_b_ws.recv(timeout=10))
    kinds = [m["type"] for m in seen if m["patient"]["id"] == patient["id"]]
    assert kinds == ["patient.updated", "alert.critical"]
    assert seen[-1]["patient"]["risk_level"] == "critical"
    assert seen[-1]["patient"]["probability"] == 0.62
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
        patient = submit(live.api_url, medic_a, row_index=7)
        _receive_until(doctor_ws, _about(patient["id"], "patient.created"))
        _wait_for(lambda: live.db.connections.find_one({"_id": stale["_id"]}) is None)


def test_poison_message_lands_in_dlq(live: LiveStack) -> None:
    doctor, medic_a = live.accounts["DOCTOR"], live.accounts["MEDIC_A"]
    poison = live.sqs.send_message(
        QueueUrl=live.queue_url, MessageBody='{"type": "patient.created"}'
    )["MessageId"]
    with _connect(live, doctor) as doctor_ws:
        _subscribe(doctor_ws, channel="board")
        patient = submit(live.api_url, medic_a, row_index=8)
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


def test_notify_reports_only_bad_record(live: LiveStack) -> None:
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
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
            "awsRegion": REGION,
        }
        for message_id, body in (("good-1", json.dumps(good)), ("bad-1", "{oops"))
    ]
    context = LocalLambdaContext(function_name="notify")
    result = notify.lambda_handler({"Records": records}, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
