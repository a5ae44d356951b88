"""Role table over HTTP through the local gateway: each route with each role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.integration.roles_helpers import (
    Account,
    create_account,
    login,
    submit,
    validation_vitals,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accounts(stack: Any) -> dict[str, Account]:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
    return {
        "ADMIN": admin,
        "DOCTOR": create_account(stack.api_url, admin, "DOCTOR", "doctor"),
        "PARAMEDIC": create_account(stack.api_url, admin, "PARAMEDIC", "medic"),
        "OTHER_PARAMEDIC": create_account(stack.api_url, admin, "PARAMEDIC", "medic2"),
    }


# route -> function(api_url, accounts, patient) returning (method, path, json body)
Request = Callable[[dict[str, Account], dict[str, Any]], tuple[str, str, Any]]

ROUTES: dict[str, Request] = {
    "create_patient": lambda a, p: ("POST", "/patients", validation_vitals(1)),
    "list_patients": lambda a, p: ("GET", "/patients", None),
    "read_patient": lambda a, p: ("GET", f"/patients/{p['id']}", None),
    "assign": lambda a, p: (
        "POST",
        f"/patients/{p['id']}/assign",
        {"doctor_id": a["DOCTOR"].user["id"]},
    ),
    "status": lambda a, p: (
        "POST",
        f"/patients/{p['id']}/status",
        {"status": "arrived"},
    ),
    "note": lambda a, p: ("POST", f"/patients/{p['id']}/notes", {"text": "on oxygen"}),
    "stats": lambda a, p: ("GET", "/stats", None),
    "list_doctors": lambda a, p: ("GET", "/doctors", None),
    "list_users": lambda a, p: ("GET", "/users", None),
    "create_user": lambda a, p: (
        "POST",
        "/users",
        {
            "email": f"new-{p['id'][-8:]}-{id(a)}@hospital.example",
            "name": "New",
            "role": "DOCTOR",
            "password": "a-long-enough-password",
        },
    ),
    "update_user": lambda a, p: (
        "PATCH",
        f"/users/{a['OTHER_PARAMEDIC'].user['id']}",
        {"name": "Renamed"},
    ),
    "audit": lambda a, p: ("GET", "/audit", None),
    "model_card": lambda a, p: ("GET", "/model-card", None),
    "me": lambda a, p: ("GET", "/me", None),
}

# Expected status per route and caller. PARAMEDIC owns the patient; OTHER_PARAMEDIC
# does not and gets 404 for it, so ids of other crews' patients are not confirmed.
EXPECTED: dict[str, dict[str, int]] = {
    "create_patient": {
        "ANON": 401,
        "PARAMEDIC": 201,
        "OTHER_PARAMEDIC": 201,
        "DOCTOR": 403,
        "ADMIN": 201,
    },
    "list_patients": {
        "ANON": 401,
        "PARAMEDIC": 200,
        "OTHER_PARAMEDIC": 200,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "read_patient": {
        "ANON": 401,
        "PARAMEDIC": 200,
        "OTHER_PARAMEDIC": 404,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "assign": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "status": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "note": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "stats": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "list_doctors": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
    "list_users": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 403,
        "ADMIN": 200,
    },
    "create_user": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 403,
        "ADMIN": 201,
    },
    "update_user": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 403,
        "ADMIN": 200,
    },
    "audit": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 403,
        "ADMIN": 200,
    },
    "model_card": {
        "ANON": 401,
        "PARAMEDIC": 403,
        "OTHER_PARAMEDIC": 403,
        "DOCTOR": 403,
        "ADMIN": 200,
    },
    "me": {
        "ANON": 401,
        "PARAMEDIC": 200,
        "OTHER_PARAMEDIC": 200,
        "DOCTOR": 200,
        "ADMIN": 200,
    },
}

CASES = [
    (route, caller, status)
    for route, by_caller in EXPECTED.items()
    for caller, status in by_caller.items()
]


@pytest.mark.parametrize(("route", "caller", "expected"), CASES)
def test_role_table(
    stack: Any, accounts: dict[str, Account], route: str, caller: str, expected: int
) -> None:
    # A fresh patient per case, so a status change in one case cannot affect another.
    patient = submit(stack.api_url, accounts["PARAMEDIC"])
    method, path, body = ROUTES[route](accounts, patient)
    headers = {} if caller == "ANON" else accounts[caller].headers
    response = requests.request(
        method, stack.api_url + path, json=body, headers=headers, timeout=30
    )
    assert response.status_code == expected, response.text
    if expected >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "field"}
        assert error["message"]


def test_paramedic_lists_only_own_patients(
    stack: Any, accounts: dict[str, Account]
) -> None:
    own = submit(stack.api_url, accounts["OTHER_PARAMEDIC"], row_index=2)
    response = requests.get(
        f"{stack.api_url}/patients",
        params={"page_size": 200},
        headers=accounts["OTHER_PARAMEDIC"].headers,
        timeout=10,
    )
    assert response.status_code == 200
    submitters = {item["submitted_by"] for item in response.json()["items"]}
    assert submitters == {accounts["OTHER_PARAMEDIC"].user["id"]}
    assert own["id"] in {item["id"] for item in response.json()["items"]}


def test_status_transition_rules(stack: Any, accounts: dict[str, Account]) -> None:
    patient = submit(stack.api_url, accounts["PARAMEDIC"])
    doctor = accounts["DOCTOR"]
    url = f"{stack.api_url}/patients/{patient['id']}/status"
    skip = requests.post(
        url, json={"status": "discharged"}, headers=doctor.headers, timeout=10
    )
    assert skip.status_code == 409
    assert skip.json()["error"]["field"] == "status"
    assert skip.json()["error"]["message"].endswith("allowed next: arrived")
    for status in ("arrived", "in_treatment", "admitted_icu"):
        step = requests.post(
            url, json={"status": status}, headers=doctor.headers, timeout=10
        )
        assert step.status_code == 200, step.text
        assert step.json()["status"] == status
    history = step.json()["history"]
    assert [(h["old"], h["new"]) for h in history if h["field"] == "status"] == [
        ("incoming", "arrived"),
        ("arrived", "in_treatment"),
        ("in_treatment", "admitted_icu"),
    ]
    assert all(h["by"] == doctor.user["id"] for h in history)
    final = requests.post(
        url, json={"status": "arrived"}, headers=doctor.headers, timeout=10
    )
    assert final.status_code == 409


def test_assign_rejects_non_doctor(stack: Any, accounts: dict[str, Account]) -> None:
    patient = submit(stack.api_url, accounts["PARAMEDIC"])
    response = requests.post(
        f"{stack.api_url}/patients/{patient['id']}/assign",
        json={"doctor_id": accounts["PARAMEDIC"].user["id"]},
        headers=accounts["DOCTOR"].headers,
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "doctor_id"


def test_admin_cannot_demote_self(stack: Any, accounts: dict[str, Account]) -> None:
    admin = accounts["ADMIN"]
    response = requests.patch(
        f"{stack.api_url}/users/{admin.user['id']}",
        json={"role": "DOCTOR"},
        headers=admin.headers,
        timeout=10,
    )
    assert response.status_code == 403


def test_deactivated_user_token_rejected(
    stack: Any, accounts: dict[str, Account]
) -> None:
    admin = accounts["ADMIN"]
    medic = create_account(stack.api_url, admin, "PARAMEDIC", "leaver")
    off = requests.patch(
        f"{stack.api_url}/users/{medic.user['id']}",
        json={"active": False},
        headers=admin.headers,
        timeout=10,
    )
    assert off.status_code == 200
    assert off.json()["active"] is False
    response = requests.get(f"{stack.api_url}/me", headers=medic.headers, timeout=10)
    assert response.status_code == 401
    relogin = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": medic.user["email"], "password": medic.password},
        timeout=10,
    )
    assert relogin.status_code == 401


def test_role_change_invalidates_old_token(
    stack: Any, accounts: dict[str, Account]
) -> None:
    admin = accounts["ADMIN"]
    medic = create_account(stack.api_url, admin, "PARAMEDIC", "promoted")
    changed = requests.patch(
        f"{stack.api_url}/users/{medic.user['id']}",
        json={"role": "DOCTOR"},
        headers=admin.headers,
        timeout=10,
    )
    assert changed.status_code == 200
    response = requests.get(f"{stack.api_url}/stats", headers=medic.headers, timeout=10)
    assert response.status_code == 401
