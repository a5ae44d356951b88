"""Token attacks and login hardening over HTTP through the local gateway."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import boto3
import jwt
import pytest
import requests

from tests.integration.roles_helpers import Account, create_account, login

pytestmark = pytest.mark.slow


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def signing_key(stack: Any) -> str:
    """Read the HS256 key the stack signs with from its Secrets Manager endpoint."""
    client = boto3.client(
        "secretsmanager",
        endpoint_url=stack.moto_endpoint,
        # The secret's ARN names its region: arn:aws:secretsmanager:REGION:...
        region_name=stack.app_env["JWT_SECRET_ARN"].split(":")[3],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client.get_secret_value(SecretId=stack.app_env["JWT_SECRET_ARN"])[
        "SecretString"
    ]


@pytest.fixture(scope="module")
def medic(stack: Any) -> Account:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
    return create_account(stack.api_url, admin, "PARAMEDIC", "attacker")


def _claims(medic: Account, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": medic.user["id"],
        "role": "PARAMEDIC",
        "typ": "access",
        "iss": "triage-platform",
        "aud": "triage-clinicians",
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_hex(8),
    }
    claims.update(overrides)
    return claims


def _status(stack: Any, token: str, path: str = "/me") -> int:
    response = requests.get(
        f"{stack.api_url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    if response.status_code >= 400:
        assert response.json()["error"]["code"] in {"unauthorized", "forbidden"}
    return response.status_code


def test_valid_forged_control_accepted(
    stack: Any, medic: Account, signing_key: str
) -> None:
    # The attacks below differ from this token in one property each.
    token = jwt.encode(_claims(medic), signing_key, algorithm="HS256")
    assert _status(stack, token) == 200


def test_alg_none_rejected(stack: Any, medic: Account) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(medic))}."
    assert _status(stack, token) == 401


def test_wrong_signature_rejected(stack: Any, medic: Account) -> None:
    token = jwt.encode(_claims(medic), "not-the-key-" * 4, algorithm="HS256")
    assert _status(stack, token) == 401


def test_expired_rejected(stack: Any, medic: Account, signing_key: str) -> None:
    past = int(time.time()) - 3600
    token = jwt.encode(
        _claims(medic, iat=past - 600, exp=past), signing_key, algorithm="HS256"
    )
    assert _status(stack, token) == 401


def test_wrong_audience_rejected(stack: Any, medic: Account, signing_key: str) -> None:
    token = jwt.encode(
        _claims(medic, aud="someone-else"), signing_key, algorithm="HS256"
    )
    assert _status(stack, token) == 401


def test_wrong_issuer_rejected(stack: Any, medic: Account, signing_key: str) -> None:
    token = jwt.encode(_claims(medic, iss="evil"), signing_key, algorithm="HS256")
    assert _status(stack, token) == 401


def test_hs512_rejected(stack: Any, medic: Account, signing_key: str) -> None:
    token = jwt.encode(_claims(medic), signing_key, algorithm="HS512")
    assert _status(stack, token) == 401


def test_edited_role_rejected(stack: Any, medic: Account) -> None:
    header, payload, signature = medic.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "ADMIN"
    forged = f"{header}.{_b64(claims)}.{signature}"
    assert _status(stack, forged, "/users") == 401


def test_admin_role_claim_on_paramedic_account_rejected(
    stack: Any, medic: Account, signing_key: str
) -> None:
    # Even a correctly signed token cannot raise a role the account does not have.
    token = jwt.encode(_claims(medic, role="ADMIN"), signing_key, algorithm="HS256")
    assert _status(stack, token, "/users") == 401


def test_refresh_token_not_accepted_as_access(stack: Any, medic: Account) -> None:
    tokens = login(stack.api_url, medic.user["email"], medic.password)
    assert _status(stack, tokens["refresh_token"]) == 401


def test_missing_and_garbage_tokens_rejected(stack: Any) -> None:
    assert requests.get(f"{stack.api_url}/me", timeout=10).status_code == 401
    assert _status(stack, "garbage") == 401


def test_refresh_issues_new_access_token(stack: Any, medic: Account) -> None:
    tokens = login(stack.api_url, medic.user["email"], medic.password)
    response = requests.post(
        f"{stack.api_url}/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        timeout=10,
    )
    assert response.status_code == 200
    assert _status(stack, response.json()["access_token"]) == 200
    reused = requests.post(
        f"{stack.api_url}/auth/refresh",
        json={"refresh_token": tokens["access_token"]},
        timeout=10,
    )
    assert reused.status_code == 401


def test_login_unknown_email_same_answer(stack: Any, medic: Account) -> None:
    unknown = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": "nobody@hospital.example", "password": "whatever-password"},
        timeout=10,
    )
    wrong = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": medic.user["email"], "password": "wrong-password"},
        timeout=10,
    )
    assert unknown.status_code == 401
    assert wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_lockout_after_repeated_failures(stack: Any) -> None:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
    victim = create_account(stack.api_url, admin, "DOCTOR", "victim")
    for _ in range(5):
        bad = requests.post(
            f"{stack.api_url}/auth/login",
            json={"email": victim.user["email"], "password": "guess-password"},
            timeout=10,
        )
        assert bad.status_code == 401
    locked = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": victim.user["email"], "password": victim.password},
        timeout=10,
    )
    assert locked.status_code == 401
    stored = stack.db().users.find_one({"_id": victim.user["id"]})
    assert stored["locked_until"] is not None


def test_password_stored_as_argon2(stack: Any, medic: Account) -> None:
    stored = stack.db().users.find_one({"_id": medic.user["id"]})
    assert stored["password_hash"].startswith("$argon2id$")
    assert medic.password not in stored["password_hash"]


def _admin(stack: Any) -> Account:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    return Account("ADMIN", tokens["user"], tokens["access_token"], "")


def _patch_user(stack: Any, admin: Account, user_id: str, body: dict) -> Any:
    return requests.patch(
        f"{stack.api_url}/users/{user_id}", json=body, headers=admin.headers, timeout=10
    )


def _refresh(stack: Any, refresh_token: str) -> int:
    return requests.post(
        f"{stack.api_url}/auth/refresh",
        json={"refresh_token": refresh_token},
        timeout=10,
    ).status_code


def test_reactivation_does_not_revive_old_tokens(stack: Any) -> None:
    admin = _admin(stack)
    doctor = create_account(stack.api_url, admin, "DOCTOR", "reactivated")
    old = login(stack.api_url, doctor.user["email"], doctor.password)
    assert (
        _patch_user(stack, admin, doctor.user["id"], {"active": False}).status_code
        == 200
    )
    assert (
        _patch_user(stack, admin, doctor.user["id"], {"active": True}).status_code
        == 200
    )
    assert _refresh(stack, old["refresh_token"]) == 401
    assert _status(stack, old["access_token"]) == 401
    fresh = login(stack.api_url, doctor.user["email"], doctor.password)
    assert _status(stack, fresh["access_token"]) == 200


def test_role_change_revokes_refresh_token(stack: Any) -> None:
    admin = _admin(stack)
    medic = create_account(stack.api_url, admin, "PARAMEDIC", "regraded")
    old = login(stack.api_url, medic.user["email"], medic.password)
    changed = _patch_user(stack, admin, medic.user["id"], {"role": "DOCTOR"})
    assert changed.status_code == 200
    assert changed.json()["role"] == "DOCTOR"
    assert _refresh(stack, old["refresh_token"]) == 401


def test_admin_password_reset_unlocks_and_revokes(stack: Any) -> None:
    admin = _admin(stack)
    doctor = create_account(stack.api_url, admin, "DOCTOR", "forgetful")
    old = login(stack.api_url, doctor.user["email"], doctor.password)
    for _ in range(5):
        requests.post(
            f"{stack.api_url}/auth/login",
            json={"email": doctor.user["email"], "password": "wrong-password"},
            timeout=10,
        )
    listed = requests.get(f"{stack.api_url}/users", headers=admin.headers, timeout=10)
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert by_id[doctor.user["id"]]["locked"] is True

    short = _patch_user(stack, admin, doctor.user["id"], {"password": "short"})
    assert short.status_code == 400
    assert short.json()["error"]["field"] == "password"
    reset = _patch_user(
        stack, admin, doctor.user["id"], {"password": "a-brand-new-password"}
    )
    assert reset.status_code == 200
    assert reset.json()["locked"] is False
    assert "password" not in reset.json()
    assert _refresh(stack, old["refresh_token"]) == 401
    relogin = login(stack.api_url, doctor.user["email"], "a-brand-new-password")
    assert _status(stack, relogin["access_token"]) == 200
