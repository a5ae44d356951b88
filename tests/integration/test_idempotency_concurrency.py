"""Concurrent submissions and Idempotency-Key retries through the real gateway.

Twenty clients, each with its own ``requests.Session``, post at once; the stored
patients are then counted in MongoDB by a marker in ``chief_complaint``.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from infra.local.stack import StackInfo
from tests.fixtures.faults import Session, admin_session, create_session, vitals
from triage_core.idempotency import body_hash

CLIENTS = 20
SUBMISSIONS = 200


@pytest.fixture(scope="module")
def medics(stack: StackInfo) -> list[Session]:
    admin = admin_session(stack)
    return [
        create_session(stack.api_url, admin, "PARAMEDIC", f"idem-medic-{n}")
        for n in range(2)
    ]


def _in_parallel(count: int, job: Callable[[requests.Session, int], Any]) -> list:
    """Run ``job`` ``count`` times on CLIENTS threads, one HTTP session per thread."""

    sessions: dict[int, requests.Session] = {}

    def run(index: int) -> Any:
        client = sessions.setdefault(index % CLIENTS, requests.Session())
        return job(client, index)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_submissions_are_each_stored_once(
    stack: StackInfo, medics: list[Session]
) -> None:
    marker = f"conc-{secrets.token_hex(4)}"
    medic = medics[0]

    def submit(client: requests.Session, index: int) -> tuple[int, str | None]:
        body = vitals(index, chief_complaint=f"{marker}-{index}")
        response = client.post(
            f"{stack.api_url}/patients", json=body, headers=medic.headers, timeout=60
        )
        ok = response.status_code == 201
        return response.status_code, response.json()["id"] if ok else response.text

    results = _in_parallel(SUBMISSIONS, submit)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: SUBMISSIONS}, results
    ids = [patient_id for _, patient_id in results]
    assert len(set(ids)) == SUBMISSIONS
    db = stack.db()
    stored = list(
        db.patients.find({"vitals.chief_complaint": {"$regex": f"^{marker}-"}})
    )
    assert len(stored) == SUBMISSIONS
    assert {doc["_id"] for doc in stored} == set(ids)
    complaints = Counter(doc["vitals"]["chief_complaint"] for doc in stored)
    assert max(complaints.values()) == 1  # no duplicates
    assert {doc["submitted_by"] for doc in stored} == {medic.user["id"]}
    audited = db.audit.count_documents(
        {"action": "patient.create", "patient_id": {"$in": ids}}
    )
    assert audited == SUBMISSIONS


def test_same_key_retried_concurrently_creates_one_patient(
    stack: StackInfo, medics: list[Session]
) -> None:
    key = f"retry-{secrets.token_hex(8)}"
    body = vitals(7, chief_complaint=f"idem-{key}")
    medic = medics[0]

    def retry(client: requests.Session, _: int) -> requests.Response:
        return client.post(
            f"{stack.api_url}/patients",
            json=body,
            headers={**medic.headers, "Idempotency-Key": key},
            timeout=60,
        )

    responses = _in_parallel(CLIENTS, retry)
    assert [r.status_code for r in responses] == [201] * CLIENTS
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count("true") == CLIENTS - 1
    assert replayed.count(None) == 1
    db = stack.db()
    assert db.patients.count_documents({"vitals.chief_complaint": f"idem-{key}"}) == 1
    assert db.idempotency.count_documents({"_id": f"{medic.user['id']}:{key}"}) == 1


def test_same_key_with_another_body_is_a_conflict(
    stack: StackInfo, medics: list[Session]
) -> None:
    key = f"conflict-{secrets.token_hex(8)}"
    medic = medics[0]
    headers = {**medic.headers, "Idempotency-Key": key}
    first = requests.post(
        f"{stack.api_url}/patients", json=vitals(1), headers=headers, timeout=30
    )
    assert first.status_code == 201
    # The same fields in another order hash the same: a replay, not a conflict.
    reordered = dict(reversed(list(vitals(1).items())))
    again = requests.post(
        f"{stack.api_url}/patients", json=reordered, headers=headers, timeout=30
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = requests.post(
        f"{stack.api_url}/patients",
        json=vitals(1, heart_rate=140),
        headers=headers,
        timeout=30,
    )
    assert other.status_code == 409
    assert other.json() == {
        "error": {
            "code": "conflict",
            "message": "Idempotency-Key was already used with a different request body",
            "field": "Idempotency-Key",
        }
    }
    assert stack.db().patients.count_documents({"_id": first.json()["id"]}) == 1


def test_keys_are_scoped_to_the_submitting_user(
    stack: StackInfo, medics: list[Session]
) -> None:
    key = f"shared-{secrets.token_hex(8)}"
    ids = []
    for medic in medics:
        response = requests.post(
            f"{stack.api_url}/patients",
            json=vitals(3),
            headers={**medic.headers, "Idempotency-Key": key},
            timeout=30,
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers
        ids.append(response.json()["id"])
    assert len(set(ids)) == 2


@pytest.mark.parametrize("key", ["short", "has space!", "x" * 129, "ключ-ключ"])
def test_malformed_keys_are_rejected(
    stack: StackInfo, medics: list[Session], key: str
) -> None:
    response = requests.post(
        f"{stack.api_url}/patients",
        json=vitals(2),
        headers={
            **medics[0].headers,
            "Idempotency-Key": key.encode().decode("latin-1"),
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"


def test_retry_after_crash_between_reservation_and_insert(
    stack: StackInfo, medics: list[Session]
) -> None:
    """A retry completes a reservation whose first try died before the insert."""
    medic = medics[1]
    key = f"crash-{secrets.token_hex(8)}"
    body = vitals(5)
    reserved_id = f"pat_{secrets.token_hex(16)}"
    now = datetime.now(UTC)
    db = stack.db()
    db.idempotency.insert_one(
        {
            "_id": f"{medic.user['id']}:{key}",
            "request_hash": body_hash(body),
            "patient_id": reserved_id,
            "created_at": now,
            "expires_at": now + timedelta(hours=1),
        }
    )
    response = requests.post(
        f"{stack.api_url}/patients",
        json=body,
        headers={**medic.headers, "Idempotency-Key": key},
        timeout=30,
    )
    assert response.status_code == 201
    assert response.json()["id"] == reserved_id
    assert db.patients.count_documents({"_id": reserved_id}) == 1


def test_same_key_from_parallel_processes_creates_one_patient(
    stack: StackInfo, medics: list[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda runs retries in parallel environments, which the gateway does not.

    The gateway runs one request at a time, so the HTTP test above never overlaps
    two submissions. Here twenty threads call the layer at once against the same
    nx-27017 server, as parallel Lambda environments would. The prediction is
    left out, so only the reservation and the insert race.
    """
    from triage_core import submission
    from triage_core.settings import reset_settings

    for name in ("EVENTS_QUEUE_URL", "RESCORE_QUEUE_URL"):
        monkeypatch.setenv(name, "")
    reset_settings()
    monkeypatch.setattr(submission, "score_once", lambda db, patient: None)
    db = stack.db()
    user = db.users.find_one({"_id": medics[1].user["id"]})
    assert user is not None
    key = f"parallel-{secrets.token_hex(8)}"
    body = vitals(9, chief_complaint=f"parallel-{key}")
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = list(
                pool.map(
                    lambda _: submission.submit_patient(db, user, body, key, None),
                    range(CLIENTS),
                )
            )
    finally:
        reset_settings()
    assert len({result.patient["_id"] for result in results}) == 1
    assert [result.replayed for result in results].count(False) == 1
    stored = db.patients.count_documents({"vitals.chief_complaint": f"parallel-{key}"})
    assert stored == 1
