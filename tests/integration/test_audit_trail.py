"""Audit entries for every read and write of a patient record."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.integration.roles_helpers import Account, create_account, login, submit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(stack: Any) -> dict[str, Account]:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
    return {
        "ADMIN": admin,
        "DOCTOR": create_account(stack.api_url, admin, "DOCTOR", "auditdoc"),
        "PARAMEDIC": create_account(stack.api_url, admin, "PARAMEDIC", "auditmedic"),
    }


def test_create_read_and_change_are_audited(
    stack: Any, team: dict[str, Account]
) -> None:
    patient = submit(stack.api_url, team["PARAMEDIC"])
    pid = patient["id"]
    doctor = team["DOCTOR"]
    read = requests.get(
        f"{stack.api_url}/patients/{pid}", headers=doctor.headers, timeout=10
    )
    assert read.status_code == 200
    moved = requests.post(
        f"{stack.api_url}/patients/{pid}/status",
        json={"status": "arrived"},
        headers=doctor.headers,
        timeout=10,
    )
    assert moved.status_code == 200

    entries = list(stack.db().audit.find({"patient_id": pid}).sort("at", 1))
    actions = [(e["action"], e["user_id"], e["role"]) for e in entries]
    assert actions == [
        ("patient.create", team["PARAMEDIC"].user["id"], "PARAMEDIC"),
        ("patient.read", doctor.user["id"], "DOCTOR"),
        ("patient.status", doctor.user["id"], "DOCTOR"),
    ]
    assert all(e["request_id"] for e in entries)
    assert entries[2]["detail"] == {"old": "incoming", "new": "arrived"}


def test_listing_is_audited_with_ids(stack: Any, team: dict[str, Account]) -> None:
    patient = submit(stack.api_url, team["PARAMEDIC"])
    response = requests.get(
        f"{stack.api_url}/patients",
        params={"page_size": 200},
        headers=team["PARAMEDIC"].headers,
        timeout=10,
    )
    assert response.status_code == 200
    entry = stack.db().audit.find_one(
        {"action": "patient.list", "user_id": team["PARAMEDIC"].user["id"]},
        sort=[("at", -1)],
    )
    assert entry is not None
    assert patient["id"] in entry["detail"]["patient_ids"]


def test_admin_reads_audit_api(stack: Any, team: dict[str, Account]) -> None:
    patient = submit(stack.api_url, team["PARAMEDIC"])
    response = requests.get(
        f"{stack.api_url}/audit",
        params={"patient_id": patient["id"]},
        headers=team["ADMIN"].headers,
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    assert body["items"][0]["action"] == "patient.create"
    denied = requests.get(
        f"{stack.api_url}/audit", headers=team["DOCTOR"].headers, timeout=10
    )
    assert denied.status_code == 403


def test_audit_has_no_write_route(stack: Any, team: dict[str, Account]) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = requests.request(
            method, f"{stack.api_url}/audit", headers=team["ADMIN"].headers, timeout=10
        )
        assert response.status_code in {403, 404, 405}, method


def test_account_actions_are_audited(stack: Any, team: dict[str, Account]) -> None:
    admin = team["ADMIN"]
    medic = create_account(stack.api_url, admin, "PARAMEDIC", "audited")
    moved = requests.patch(
        f"{stack.api_url}/users/{medic.user['id']}",
        json={"role": "DOCTOR", "password": "another-long-password"},
        headers=admin.headers,
        timeout=10,
    )
    assert moved.status_code == 200
    bad = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": medic.user["email"], "password": "not-the-password"},
        timeout=10,
    )
    assert bad.status_code == 401

    db = stack.db()
    created = db.audit.find_one(
        {"action": "user.create", "detail.target_user_id": medic.user["id"]}
    )
    assert created is not None
    assert created["user_id"] == admin.user["id"]
    assert created["detail"]["role"] == "PARAMEDIC"
    updated = db.audit.find_one(
        {"action": "user.update", "detail.target_user_id": medic.user["id"]}
    )
    assert updated is not None
    assert updated["detail"]["fields"] == ["password", "role"]
    assert "another-long-password" not in str(updated)
    logins = list(db.audit.find({"action": "auth.login", "user_id": medic.user["id"]}))
    assert len(logins) == 1
    failed = db.audit.find_one(
        {"action": "auth.login_failed", "user_id": medic.user["id"]}
    )
    assert failed is not None
    assert failed["detail"] == {"reason": "wrong_password"}
