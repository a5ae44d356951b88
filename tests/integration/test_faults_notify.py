"""A crashing notification function loses no event: SQS delivers it again.

The real ``functions/notify/handler.py`` runs in this process behind the
``infra.local.event_source`` poller, against the session stack's moto, MongoDB
and websocket gateway. It reads a queue of its own, so the stack's own poller
does not take the messages. That queue hides a received message for one second
and moves it to the dead-letter queue after three receives. A doctor's websocket
shows what was finally delivered.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from websockets.sync.client import ClientConnection, connect

from infra.local.event_source import SqsEventSource, load_handler
from infra.local.stack import StackInfo
from tests.fixtures.faults import Session, admin_session, create_session, vitals
from triage_core import auth, connections, events, storage
from triage_core.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]
MAX_RECEIVES = 3


@dataclass
class NotifyRig:
    info: StackInfo
    sqs: Any
    queue_url: str
    dlq_url: str
    notify: Any
    doctor: Session
    medic: Session


def _clear_caches(notify: Any | None) -> None:
    reset_settings()
    storage.reset_client()
    auth.signing_key.cache_clear()
    events._sqs_client.cache_clear()
    connections._indexed_databases.clear()
    if notify is not None:
        notify.management_client.cache_clear()


@pytest.fixture(scope="module")
def rig(stack: StackInfo) -> Iterator[NotifyRig]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.moto_endpoint,
        region_name=stack.app_env["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"faults-notify-{secrets.token_hex(4)}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
            ),
        },
    )["QueueUrl"]
    admin = admin_session(stack)
    doctor = create_session(stack.api_url, admin, "DOCTOR", "notify-doctor")
    medic = create_session(stack.api_url, admin, "PARAMEDIC", "notify-medic")
    notify = None
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in stack.app_env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        try:
            load_handler(
                REPO / "functions" / "notify" / "handler.py", "faults_notify_handler"
            )
            notify = sys.modules["faults_notify_handler"]
            _clear_caches(notify)
            yield NotifyRig(stack, sqs, queue_url, dlq_url, notify, doctor, medic)
        finally:
            _clear_caches(notify)


class CrashingOnce:
    """Wrap a Lambda handler so the first invocation with the marked record crashes."""

    def __init__(self, handler: Callable[[dict, Any], Any], marker: str) -> None:
        self.handler = handler
        self.marker = marker
        self.crashed = False
        self.receive_counts: list[int] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        for record in event["Records"]:
            if self.marker in record["body"]:
                self.receive_counts.append(
                    int(record["attributes"]["ApproximateReceiveCount"])
                )
                if not self.crashed:
                    self.crashed = True
                    raise RuntimeError("simulated crash of the notify function")
        return self.handler(event, context)


def _submit(rig: NotifyRig) -> dict[str, Any]:
    marker = f"notify-{secrets.token_hex(4)}"
    response = requests.post(
        f"{rig.info.api_url}/patients",
        json=vitals(4, chief_complaint=marker),
        headers=rig.medic.headers,
        timeout=15,
    )
    assert response.status_code == 201
    return rig.info.db().patients.find_one({"_id": response.json()["id"]})


@contextmanager
def _board(rig: NotifyRig) -> Iterator[ClientConnection]:
    url = f"{rig.info.websocket_url}?token={rig.doctor.access_token}"
    with connect(url, proxy=None, open_timeout=10) as client:
        client.send(json.dumps({"action": "subscribe", "channel": "board"}))
        assert json.loads(client.recv(timeout=10))["type"] == "subscribed"
        yield client


def _drain(client: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    received = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            received.append(json.loads(client.recv(timeout=remaining)))
        except TimeoutError:
            break
    return received


def _poll_until(source: SqsEventSource, done: Callable[[], bool], what: str) -> int:
    """Run the poller by hand until ``done``; return how many batches it took."""
    for batches in range(1, 30):
        source.poll_once()
        if done():
            return batches
    raise AssertionError(f"{what} not reached after 30 polls")


def _queue_is_empty(rig: NotifyRig, url: str) -> bool:
    attributes = rig.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


@pytest.mark.parametrize("where", ["invocation", "record"])
def test_crashed_delivery_is_redelivered_once(rig: NotifyRig, where: str) -> None:
    patient = _submit(rig)
    marker = patient["vitals"]["chief_complaint"]
    body = events.build_events(events.PATIENT_UPDATED, patient)[0]
    with _board(rig) as client:
        _drain(client, 1.0)  # the stack's own patient.created delivery
        rig.sqs.send_message(QueueUrl=rig.queue_url, MessageBody=json.dumps(body))
        handler = CrashingOnce(rig.notify.lambda_handler, marker)
        if where == "record":
            # The crash happens inside one record: a batch item failure.
            real_deliver = rig.notify.deliver
            handler.crashed = True
            failed: list[str] = []

            def deliver_failing_once(event: Any) -> Any:
                if not failed:
                    failed.append(event.patient_id)
                    raise ConnectionError("management API unreachable")
                return real_deliver(event)

            rig.notify.deliver = deliver_failing_once
        source = SqsEventSource(
            rig.queue_url,
            handler,
            visibility_timeout=1,
            max_receive_count=MAX_RECEIVES,
            function_name="notify",
        )
        source.load_queue_attributes()
        try:
            _poll_until(
                source, lambda: len(handler.receive_counts) >= 2, "a second delivery"
            )
        finally:
            if where == "record":
                rig.notify.deliver = real_deliver
        received = _drain(client, 3.0)
    assert handler.receive_counts[:2] == [1, 2]
    updates = Counter(
        m["type"] for m in received if m.get("patient", {}).get("id") == patient["_id"]
    )
    assert updates["patient.updated"] == 1, received
    delivered = next(m for m in received if m["type"] == "patient.updated")
    assert delivered["patient"]["chief_complaint"] == marker
    assert delivered["patient"]["news2_total"] == patient["news2"]["total"]
    assert _queue_is_empty(rig, rig.queue_url)
    assert _queue_is_empty(rig, rig.dlq_url)


def test_poison_message_ends_in_the_dead_letter_queue(rig: NotifyRig) -> None:
    poison = json.dumps({"type": "patient.updated", "patient_id": "not-a-patient"})
    rig.sqs.send_message(QueueUrl=rig.queue_url, MessageBody=poison)
    source = SqsEventSource(
        rig.queue_url,
        rig.notify.lambda_handler,
        visibility_timeout=1,
        max_receive_count=MAX_RECEIVES,
        function_name="notify",
    )
    source.load_queue_attributes()
    parked: list[dict[str, Any]] = []

    def in_dlq() -> bool:
        time.sleep(0.5)
        parked.extend(
            rig.sqs.receive_message(
                QueueUrl=rig.dlq_url,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        )
        return bool(parked)

    _poll_until(source, in_dlq, "the poison message in the dead-letter queue")
    assert [message["Body"] for message in parked] == [poison]
    assert _queue_is_empty(rig, rig.queue_url)


@pytest.mark.parametrize("change", [{"active": False}, {"role": "PARAMEDIC"}])
def test_changed_account_stops_receiving_the_board(
    rig: NotifyRig, change: dict[str, Any]
) -> None:
    """A deactivated or demoted doctor's open websocket gets no more patients.

    The REST API rereads the account on every request; the websocket has no
    request to hook, so the account change must remove its connections.
    """
    api = rig.info.api_url
    admin = admin_session(rig.info)
    leaving = create_session(api, admin, "DOCTOR", "leaving-doctor")
    with _board(rig) as control:
        url = f"{rig.info.websocket_url}?token={leaving.access_token}"
        with connect(url, proxy=None, open_timeout=10) as client:
            client.send(json.dumps({"action": "subscribe", "channel": "board"}))
            assert json.loads(client.recv(timeout=10))["type"] == "subscribed"
            response = requests.patch(
                f"{api}/users/{leaving.user['id']}",
                json=change,
                headers=admin.headers,
                timeout=15,
            )
            assert response.status_code == 200, response.text
            patient = _submit(rig)

            def about_patient(messages: list[dict[str, Any]]) -> list[dict]:
                return [
                    m
                    for m in messages
                    if m.get("patient", {}).get("id") == patient["_id"]
                ]

            deadline = time.monotonic() + 20
            seen: list[dict[str, Any]] = []
            while not about_patient(seen) and time.monotonic() < deadline:
                seen += _drain(control, 1.0)
            assert about_patient(seen), "the control doctor got no event"
            leaked = about_patient(_drain(client, 2.0))
    assert leaked == []
    assert (
        rig.info.db().connections.count_documents({"user_id": leaving.user["id"]}) == 0
    )
