"""No patient field, token, password or signing key reaches any log of the stack.

A private stack runs a whole clinical workflow with distinctive values, including
a failed login, a token refresh, a websocket session with the token in its query
string and a prediction outage (so the rescore path logs too). Then every file
under the stack's log directory and this process's captured output are searched.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from infra.local.stack import EmbeddedStack, StackInfo
from tests.fixtures.faults import (
    admin_session,
    create_session,
    kill_prediction,
    log_files,
    private_stack,
    restart_prediction,
    vitals,
    wait_for,
)

pytestmark = pytest.mark.slow

COMPLAINT = "zebra-marker-7781"
NOTE = "note-quokka-5521 left pupil sluggish"
WRONG_PASSWORD = "wrong-pass-marker-40913"
# Values that are ordinary numbers elsewhere in a log (ports, durations), so they
# are searched next to their field name, in any quoting.
FIELD_PATTERNS = {
    "age 97": r"age\W{0,4}97\b",
    "heart_rate 173": r"heart_rate\W{0,4}173\b",
    "temperature 41.7": r"temperature\W{0,4}41\.7\b",
    "chief_complaint": r"chief_complaint\W{0,4}[A-Za-z]",
}


@pytest.fixture(scope="module")
def log_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedStack, StackInfo]]:
    var_dir = tmp_path_factory.mktemp("var-logs")
    with private_stack(var_dir, {"PREDICT_TIMEOUT_SECONDS": "10"}) as running:
        yield running


def _workflow(embedded: EmbeddedStack, info: StackInfo) -> dict[str, str]:
    """Run the workflow; return the secrets that must not be logged, by name."""
    api = info.api_url
    admin = admin_session(info)
    medic = create_session(api, admin, "PARAMEDIC", "log-medic")
    doctor = create_session(api, admin, "DOCTOR", "log-doctor")
    failed = requests.post(
        f"{api}/auth/login",
        json={"email": medic.user["email"], "password": WRONG_PASSWORD},
        timeout=15,
    )
    assert failed.status_code == 401
    # A rejected body: the 400 message repeats the value to the client only.
    rejected = requests.post(
        f"{api}/patients",
        json=vitals(0, chief_complaint=COMPLAINT + "-" * 200),
        headers=medic.headers,
        timeout=15,
    )
    assert rejected.status_code == 400
    assert COMPLAINT in rejected.json()["error"]["message"]
    body = vitals(
        0, age=97, heart_rate=173, temperature=41.7, chief_complaint=COMPLAINT
    )
    created = requests.post(
        f"{api}/patients", json=body, headers=medic.headers, timeout=15
    )
    assert created.status_code == 201
    patient_id = created.json()["id"]
    assert created.json()["vitals"]["chief_complaint"] == COMPLAINT

    ws_url = f"{info.websocket_url}?token={doctor.access_token}"
    with connect(ws_url, proxy=None, open_timeout=10) as client:
        client.send(json.dumps({"action": "subscribe", "channel": "board"}))
        assert json.loads(client.recv(timeout=10))["type"] == "subscribed"
        for path, payload in [
            ("assign", {"doctor_id": doctor.user["id"]}),
            ("status", {"status": "arrived"}),
            ("notes", {"text": NOTE}),
        ]:
            response = requests.post(
                f"{api}/patients/{patient_id}/{path}",
                json=payload,
                headers=doctor.headers,
                timeout=15,
            )
            assert response.status_code == 200, response.text
        # The notify function delivers the updates, so its log lines exist too.
        seen = json.loads(client.recv(timeout=20))
        assert seen["patient"]["id"] == patient_id

    # A submission during a prediction outage runs the rescore function later.
    kill_prediction(embedded)
    pending = requests.post(
        f"{api}/patients",
        json=vitals(1, age=97, heart_rate=173, chief_complaint=COMPLAINT),
        headers=medic.headers,
        timeout=15,
    )
    assert pending.json()["prediction"]["state"] == "pending"
    restart_prediction(embedded, info)
    db = info.db()
    wait_for(
        lambda: (
            db.patients.find_one({"_id": pending.json()["id"]})["prediction"]["state"]
            == "scored"
        ),
        60,
        "the pending patient rescored",
    )
    detail = requests.get(
        f"{api}/patients/{patient_id}", headers=doctor.headers, timeout=15
    )
    assert detail.json()["notes"][0]["text"] == NOTE
    refreshed = requests.post(
        f"{api}/auth/refresh",
        json={"refresh_token": medic.refresh_token},
        timeout=15,
    )
    assert refreshed.status_code == 200
    signing_key = (info.var_dir / "secrets" / "jwt_signing_key").read_text().strip()
    return {
        "paramedic access token": medic.access_token,
        "paramedic refresh token": medic.refresh_token,
        "refreshed access token": refreshed.json()["access_token"],
        "doctor access token": doctor.access_token,
        "admin access token": admin.access_token,
        "paramedic password": medic.password,
        "doctor password": doctor.password,
        "admin password": info.admin_password,
        "wrong password": WRONG_PASSWORD,
        "JWT signing key": signing_key,
        "chief complaint": COMPLAINT,
        "note text": NOTE,
        "note marker": "note-quokka-5521",
    }


def _findings(name: str, text: str, secrets_by_name: dict[str, str]) -> list[str]:
    found = [
        f"{name}: {label}" for label, value in secrets_by_name.items() if value in text
    ]
    # A token is also useless in pieces: its signature part alone is a secret.
    for label, value in secrets_by_name.items():
        if "token" in label and value.rsplit(".", 1)[-1] in text:
            found.append(f"{name}: signature of {label}")
    found += [
        f"{name}: {label}"
        for label, pattern in FIELD_PATTERNS.items()
        if re.search(pattern, text)
    ]
    return sorted(set(found))


def test_no_phi_or_secret_in_any_log(
    log_stack: tuple[EmbeddedStack, StackInfo], capfd: pytest.CaptureFixture[str]
) -> None:
    embedded, info = log_stack
    secrets_by_name = _workflow(embedded, info)
    captured = capfd.readouterr()
    files = log_files(info)
    names = {path.name for path in files}
    # Every component wrote its log, so the search below has something to read.
    assert {"gateway.log", "moto.log", "predict.log", "mongo.log"} <= names, names
    sizes = {path.name: path.stat().st_size for path in files}
    assert sizes["gateway.log"] > 0
    assert sizes["predict.log"] > 0
    gateway_log = (info.log_dir / "gateway.log").read_text(errors="replace")
    assert "rescored" in gateway_log or "Rescore_scored" in gateway_log
    findings: list[str] = []
    for path in files:
        text = path.read_text(errors="replace")
        findings += _findings(
            str(path.relative_to(info.log_dir)), text, secrets_by_name
        )
    findings += _findings("captured stdout", captured.out, secrets_by_name)
    findings += _findings("captured stderr", captured.err, secrets_by_name)
    assert findings == [], findings


def test_search_finds_a_planted_value(tmp_path: Path) -> None:
    """Control: the search above does report a value that is in a log."""
    token = f"aaa.bbb.{secrets.token_urlsafe(8)}"
    text = f'{{"heart_rate": 173, "note": "{NOTE}", "auth": "x{token[8:]}"}}'
    assert _findings("log", text, {"note text": NOTE, "access token": token}) == [
        "log: heart_rate 173",
        "log: note text",
        "log: signature of access token",
    ]
