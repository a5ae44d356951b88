"""Property-based fuzzing of the REST API through the real gateway over HTTP.

Hypothesis builds request bodies and query strings around the schemas: values
outside the plausible ranges, wrong types, nested objects, ``$`` and dotted keys,
long and non-ASCII strings, lone surrogates, deep nesting and missing fields. Every
response must be below 500, every 4xx must carry the error shape, and a valid vitals
body must be stored with the NEWS2 total of an independent scorer written here.
The number of requests sent is printed at the end of the module (``-s`` shows it).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from infra.local.stack import StackInfo
from tests.fixtures.faults import Session, admin_session, create_session
from triage_core.errors import ValidationFailed
from triage_core.schemas import PatientVitals, parse

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_BODY_BYTES = 64 * 1024
SENT: dict[str, int] = {}


class Api:
    """Send requests to one stack and check the invariants of every response."""

    def __init__(self, info: StackInfo) -> None:
        self.url = info.api_url
        self.http = requests.Session()

    def send(self, route: str, method: str, path: str, **kwargs: Any) -> Any:
        SENT[route] = SENT.get(route, 0) + 1
        response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        assert response.status_code < 500, (path, response.status_code, response.text)
        if response.status_code >= 400:
            assert_error_shape(response)
        return response


def assert_error_shape(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] is None or isinstance(error["field"], str)
    return error


@pytest.fixture(scope="module")
def fuzz(stack: StackInfo) -> Iterator[tuple[Api, dict[str, Session], str]]:
    admin = admin_session(stack)
    accounts = {
        "PARAMEDIC": create_session(stack.api_url, admin, "PARAMEDIC", "fuzz-medic"),
        "DOCTOR": create_session(stack.api_url, admin, "DOCTOR", "fuzz-doctor"),
    }
    api = Api(stack)
    created = api.send(
        "setup",
        "POST",
        "/patients",
        json=VALID_EXAMPLE,
        headers=accounts["PARAMEDIC"].headers,
    )
    assert created.status_code == 201
    yield api, accounts, created.json()["id"]
    total = sum(SENT.values())
    detail = ", ".join(f"{route} {count}" for route, count in sorted(SENT.items()))
    print(f"\nfuzz requests sent: {total} ({detail})")


# -- an independent NEWS2 scorer (RCP 2017 chart) ------------------------------


def _band(value: float, bands: list[tuple[float, int]], top: int) -> int:
    for upper, points in bands:
        if value <= upper:
            return points
    return top


def expected_news2(body: dict[str, Any]) -> int:
    """Score the chart by hand; temperatures here always have one decimal."""
    oxygen = body["supplemental_oxygen"]
    spo2 = body["spo2"]
    if body.get("spo2_scale", 1) == 2:
        if spo2 <= 92 or not oxygen:
            spo2_points = _band(spo2, [(83, 3), (85, 2), (87, 1)], 0)
        else:
            spo2_points = _band(spo2, [(94, 1), (96, 2)], 3)
    else:
        spo2_points = _band(spo2, [(91, 3), (93, 2), (95, 1)], 0)
    total = spo2_points + (2 if oxygen else 0)
    total += _band(body["respiratory_rate"], [(8, 3), (11, 1), (20, 0), (24, 2)], 3)
    total += _band(body["systolic_bp"], [(90, 3), (100, 2), (110, 1), (219, 0)], 3)
    total += _band(body["heart_rate"], [(40, 3), (50, 1), (90, 0), (110, 1)], 2)
    if body["heart_rate"] >= 131:
        total += 1  # 131 and above is 3 points, one more than the 111-130 band
    total += 0 if body["consciousness"] == "A" else 3
    if body.get("temperature") is not None:
        total += _band(body["temperature"], [(35.0, 3), (36.0, 1), (38.0, 0)], 0)
        total += 1 if 38.1 <= body["temperature"] <= 39.0 else 0
        total += 2 if body["temperature"] >= 39.1 else 0
    return total


# -- strategies ----------------------------------------------------------------

VALID_EXAMPLE: dict[str, Any] = {
    "age": 64,
    "sex": "male",
    "heart_rate": 88,
    "respiratory_rate": 18,
    "spo2": 97,
    "supplemental_oxygen": False,
    "systolic_bp": 132,
    "consciousness": "A",
}
REQUIRED = {
    "age": st.integers(0, 120),
    "sex": st.sampled_from(["female", "male"]),
    "heart_rate": st.integers(20, 250),
    "respiratory_rate": st.integers(4, 60),
    "spo2": st.integers(50, 100),
    "supplemental_oxygen": st.booleans(),
    "systolic_bp": st.integers(41, 300),
    "consciousness": st.sampled_from(list("ACVPU")),
}
printable_text = st.text(
    st.characters(min_codepoint=32, exclude_categories=["Cs"]), max_size=200
)
OPTIONAL = {
    "spo2_scale": st.sampled_from([1, 2]),
    "diastolic_bp": st.integers(20, 200),
    "temperature": st.integers(300, 440).map(lambda tenths: tenths / 10),
    "gcs": st.integers(3, 15),
    "injury": st.booleans(),
    "chief_complaint": printable_text,
}


def _drop_high_diastolic(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("diastolic_bp", 0) >= body["systolic_bp"]:
        body.pop("diastolic_bp")
    return body


valid_vitals = st.fixed_dictionaries(REQUIRED, optional=OPTIONAL).map(
    _drop_high_diastolic
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
odd_keys = st.sampled_from(
    ["$where", "$gt", "vitals.age", "age.$", "__proto__", "_id", "", "a\x00b", "ä"]
) | st.text(max_size=20)
lone_surrogate = st.sampled_from(["\ud800", "x\udfffy", "\udbff"])
long_text = st.integers(201, 5000).map(lambda n: "é" * n)


@st.composite
def broken_vitals(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with one or more fields broken in a way the schema must catch."""
    body = draw(valid_vitals)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["range", "type", "extra", "missing", "text", "nested", "special"]
            )
        )
        field = draw(st.sampled_from(sorted(REQUIRED) + sorted(OPTIONAL)))
        if kind == "range":
            body[field] = draw(
                st.integers(-(10**12), -1) | st.integers(301, 10**12)
                if field != "temperature"
                else st.floats(44.01, 1e6) | st.floats(-1e6, 29.99)
            )
        elif kind == "type":
            body[field] = draw(json_values)
        elif kind == "extra":
            body[draw(odd_keys)] = draw(json_values)
        elif kind == "missing" and field in body:
            del body[field]
        elif kind == "text":
            body["chief_complaint"] = draw(long_text | lone_surrogate)
        elif kind == "nested":
            body[field] = {draw(odd_keys): draw(json_values)}
        else:
            body[field] = draw(st.sampled_from([float("nan"), float("inf"), -0.0]))
    return body


def _locally_valid(body: Any) -> bool:
    try:
        parse(PatientVitals, body)
    except ValidationFailed:
        return False
    return True


# -- POST /patients --------------------------------------------------------------


@FUZZ
@given(body=valid_vitals)
def test_valid_vitals_are_stored_with_news2(fuzz: Any, body: dict[str, Any]) -> None:
    api, accounts, _ = fuzz
    response = api.send(
        "post_valid",
        "POST",
        "/patients",
        json=body,
        headers=accounts["PARAMEDIC"].headers,
    )
    assert response.status_code == 201, response.text
    patient = response.json()
    assert patient["vitals"] == PatientVitals.model_validate(body).model_dump()
    assert patient["news2"]["total"] == expected_news2(body)
    assert patient["news2"]["partial"] is (body.get("temperature") is None)
    assert patient["prediction"]["state"] in {"scored", "pending"}
    assert patient["submitted_by"] == accounts["PARAMEDIC"].user["id"]


@FUZZ
@given(body=broken_vitals())
def test_broken_vitals_rejected_with_error_shape(
    fuzz: Any, body: dict[str, Any]
) -> None:
    api, accounts, _ = fuzz
    raw = json.dumps(body).encode()
    response = api.send(
        "post_broken",
        "POST",
        "/patients",
        data=raw,
        headers={**accounts["PARAMEDIC"].headers, "Content-Type": "application/json"},
    )
    if len(raw) > MAX_BODY_BYTES:
        assert response.status_code == 413
    elif _locally_valid(body):
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 400, response.text
        assert assert_error_shape(response)["code"] == "validation_error"


@FUZZ
@given(body=json_values)
def test_any_json_document_is_rejected_cleanly(fuzz: Any, body: Any) -> None:
    api, accounts, _ = fuzz
    response = api.send(
        "post_any_json",
        "POST",
        "/patients",
        data=json.dumps(body),
        headers={**accounts["PARAMEDIC"].headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{", 400, "validation_error"),
        (b"not json at all", 400, "validation_error"),
        (b"\xff\xfe\xfa", 400, "validation_error"),
        (b"", 400, "validation_error"),
        (b"[" * 20_000 + b"]" * 20_000, 400, "validation_error"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, "validation_error"),
        (json.dumps({"chief_complaint": "x" * 70_000}).encode(), 413, None),
    ],
    ids=["truncated", "text", "bad-utf8", "empty", "deep-array", "deep-object", "70kB"],
)
def test_malformed_or_oversized_bodies(
    fuzz: Any, raw: bytes, status: int, code: str | None
) -> None:
    api, accounts, _ = fuzz
    response = api.send(
        "post_raw",
        "POST",
        "/patients",
        data=raw,
        headers={**accounts["PARAMEDIC"].headers, "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    error = assert_error_shape(response)
    assert error["code"] == (code or "payload_too_large")
    assert error["field"] == "body"


# -- GET /patients -----------------------------------------------------------------

query_values = (
    st.sampled_from(
        [
            "incoming",
            "critical",
            "pending",
            "0",
            "-1",
            "201",
            "10001",
            "1e9",
            "2024-01-01",
            "2024-02-30T00:00:00",
            "2024-01-01T00:00:00+14:00",
            "usr_" + "0" * 32,
            '{"$gt": ""}',
            "[$ne]",
        ]
    )
    | st.text(max_size=40)
    | st.integers(-(10**20), 10**20).map(str)
)
query_keys = st.sampled_from(
    ["status", "risk_level", "submitted_by", "since", "until", "page", "page_size"]
) | st.text(min_size=1, max_size=12)


@FUZZ
@given(
    query=st.dictionaries(query_keys, query_values, max_size=4),
    role=st.sampled_from(["PARAMEDIC", "DOCTOR"]),
)
def test_patient_list_query_strings(
    fuzz: Any, query: dict[str, str], role: str
) -> None:
    api, accounts, _ = fuzz
    response = api.send(
        "get_patients", "GET", "/patients", params=query, headers=accounts[role].headers
    )
    assert response.status_code in {200, 400}, response.text
    if response.status_code == 200:
        body = response.json()
        assert set(body) == {"items", "total", "page", "page_size"}
        assert len(body["items"]) <= body["page_size"]
        if role == "PARAMEDIC":
            medic_id = accounts["PARAMEDIC"].user["id"]
            assert {item["submitted_by"] for item in body["items"]} <= {medic_id}


# -- login and refresh -----------------------------------------------------------


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "email": st.emails() | json_values,
            "password": st.text(max_size=300) | json_values,
            "refresh_token": st.text(max_size=300) | json_values,
        },
    )
    | json_values
)
def test_login_and_refresh_reject_garbage(fuzz: Any, body: Any) -> None:
    api, _, _ = fuzz
    for path in ("/auth/login", "/auth/refresh"):
        response = api.send("auth", "POST", path, json=body)
        assert response.status_code in {400, 401, 429}, response.text
        assert "access_token" not in response.text


def _forged_tokens() -> st.SearchStrategy[str]:
    """Tokens that look like JWTs but carry no valid HS256 signature of the stack."""
    segment = st.text(
        st.sampled_from(string.ascii_letters + string.digits + "-_"), max_size=60
    )
    header_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    return (
        st.tuples(segment, segment, segment).map(".".join)
        | segment.map(lambda claims: f"{header_none}.{claims}.")
        # Any visible ASCII: requests rejects control characters in a header.
        | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=200)
    )


@FUZZ
@given(
    scheme=st.sampled_from(["Bearer", "bearer", "Basic", "Token", ""]),
    token=_forged_tokens(),
    path=st.sampled_from(["/patients", "/me", "/users", "/audit", "/stats"]),
)
def test_forged_authorization_headers_get_401(
    fuzz: Any, scheme: str, token: str, path: str
) -> None:
    api, _, _ = fuzz
    value = f"{scheme} {token}".strip()
    response = api.send("forged_auth", "GET", path, headers={"Authorization": value})
    assert response.status_code == 401, response.text
    assert assert_error_shape(response)["code"] == "unauthorized"


# -- workflow routes ------------------------------------------------------------

path_ids = st.text(
    st.sampled_from(string.ascii_letters + string.digits + "_-.$~ é"),
    min_size=1,
    max_size=80,
)
workflow_bodies = {
    "assign": st.fixed_dictionaries({}, optional={"doctor_id": json_values}),
    "status": st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(["arrived", "in_treatment", "bogus", ""])
            | json_values
        },
    ),
    "notes": st.fixed_dictionaries(
        {}, optional={"text": st.text(max_size=40) | json_values}
    ),
}


@FUZZ
@given(
    action=st.sampled_from(sorted(workflow_bodies)),
    data=st.data(),
    known_patient=st.booleans(),
    extra=st.dictionaries(odd_keys, json_values, max_size=2),
)
def test_workflow_routes(
    fuzz: Any, action: str, data: st.DataObject, known_patient: bool, extra: dict
) -> None:
    api, accounts, patient_id = fuzz
    body = {**data.draw(workflow_bodies[action]), **extra}
    target = patient_id if known_patient else data.draw(path_ids)
    response = api.send(
        "workflow",
        "POST",
        f"/patients/{quote(target, safe='')}/{action}",
        json=body,
        headers=accounts["DOCTOR"].headers,
    )
    # 405: an id of "." or ".." is removed from the path by the HTTP client, so the
    # request reaches /patients/{patient_id}, which has no POST.
    assert response.status_code in {200, 400, 404, 405, 409}, response.text
    if response.status_code >= 400:
        assert_error_shape(response)
    if response.status_code == 405:
        assert target in {".", ".."}
    elif not known_patient and target != patient_id and response.status_code != 400:
        assert response.status_code == 404


# -- websocket messages -----------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    ["[" * 20_000 + "]" * 20_000, "{", '{"action": "subscribe", "channel": "$where"}'],
    ids=["deep-array", "truncated", "bad-channel"],
)
def test_websocket_rejects_malformed_messages(
    fuzz: Any, stack: StackInfo, message: str
) -> None:
    _, accounts, _ = fuzz
    SENT["websocket"] = SENT.get("websocket", 0) + 1
    url = f"{stack.websocket_url}?token={accounts['DOCTOR'].access_token}"
    with connect(url, proxy=None, open_timeout=10) as client:
        client.send(message)
        reply = json.loads(client.recv(timeout=10))
        assert reply["type"] == "error", reply
        assert reply["error"]["code"] == "validation_error"
        assert set(reply["error"]) == {"code", "message", "field"}
        # The connection still works after the bad message.
        client.send(json.dumps({"action": "subscribe", "channel": "board"}))
        assert json.loads(client.recv(timeout=10)) == {
            "type": "subscribed",
            "channel": "board",
        }
