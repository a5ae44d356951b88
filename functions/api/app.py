"""Triage REST API (Chalice): patients, workflow, users, audit, stats, model card.

Handlers stay thin: validation, NEWS2, storage, role rules and events live in the
``triage_core`` layer. Websocket handlers are registered from
``chalicelib.websocket_routes``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from chalice import Chalice, CORSConfig, Response

from chalicelib.http import (
    handle_errors,
    json_body,
    json_response,
    normalize_error,
    query_params,
    request_id,
)
from chalicelib.openapi import build_openapi
from chalicelib.session import current_user, database
from chalicelib.websocket_routes import register_websocket_routes
from triage_core import access, audit, events, patients, prediction, storage, users
from triage_core.auth import decode_token, issue_tokens
from triage_core.errors import ServiceUnavailable
from triage_core.schemas import (
    AssignRequest,
    AuditQuery,
    LoginRequest,
    NoteRequest,
    PatientQuery,
    RefreshRequest,
    StatusRequest,
    UserCreate,
    UserUpdate,
    parse,
)
from triage_core.submission import submit_patient

# configure_logs=False: Powertools Logger owns the "triage-api" logger, and Chalice's
# own handler on the same name printed every line a second time as plain text.
app = Chalice(app_name="triage-api", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
logger = Logger(service="triage-api")
metrics = Metrics(namespace="TriagePlatform", service="triage-api")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    max_age=600,
)


@app.middleware("http")
def request_context(event: Any, get_response: Any) -> Response:
    """Tag every log line with the API Gateway request id and flush metrics after."""
    rid = (event.context or {}).get("requestId")
    logger.set_correlation_id(rid)
    logger.info("request", extra={"method": event.method, "path": event.path})
    try:
        response = normalize_error(get_response(event))
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
    logger.info("response", extra={"status": response.status_code})
    return response


def _audit(
    user: dict[str, Any] | None,
    action: str,
    patient_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one audit entry for the current request."""
    audit.record(
        database(),
        user=user,
        action=action,
        patient_id=patient_id,
        request_id=request_id(app),
        detail=detail,
    )


def _token_response(user: dict[str, Any]) -> Response:
    tokens = issue_tokens(user["_id"], user["role"], int(user.get("token_version", 0)))
    return json_response(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "user": users.public_user(user),
        }
    )


@app.route("/health", methods=["GET"], cors=CORS)
@handle_errors
def health() -> Response:
    mongodb = "ok" if storage.ping() else "unavailable"
    try:
        predict_answer = prediction.health()
        predictor = "ok" if predict_answer.get("status") == "ok" else "unavailable"
    except prediction.PredictionUnavailable:
        predictor = "unavailable"
        predict_answer = {}
    healthy = mongodb == "ok" and predictor == "ok"
    return json_response(
        {
            "status": "ok" if healthy else "unavailable",
            "mongodb": mongodb,
            "prediction": predictor,
            "model_version": predict_answer.get("model_version"),
        },
        status=200 if healthy else 503,
    )


@app.route("/auth/login", methods=["POST"], cors=CORS)
@handle_errors
def login() -> Response:
    request = parse(LoginRequest, json_body(app))
    db = database()
    try:
        user = users.authenticate(db, request.email, request.password)
    except users.LoginFailed as failure:
        account = (
            db.users.find_one({"_id": failure.user_id}) if failure.user_id else None
        )
        _audit(account, "auth.login_failed", detail={"reason": failure.reason})
        raise
    _audit(user, "auth.login")
    logger.info("login succeeded", extra={"user_id": user["_id"]})
    return _token_response(user)


@app.route("/auth/refresh", methods=["POST"], cors=CORS)
@handle_errors
def refresh() -> Response:
    request = parse(RefreshRequest, json_body(app))
    claims = decode_token(request.refresh_token, "refresh")
    user = users.user_for_claims(database(), claims)
    return _token_response(user)


@app.route("/me", methods=["GET"], cors=CORS)
@handle_errors
def me() -> Response:
    return json_response(users.public_user(current_user(app)))


@app.route("/patients", methods=["POST"], cors=CORS)
@handle_errors
def create_patient() -> Response:
    user = current_user(app, "patient:create")
    body = json_body(app)
    key = app.current_request.headers.get("idempotency-key")
    result = submit_patient(database(), user, body, key, request_id(app))
    metrics.add_metric(name="PatientsSubmitted", unit=MetricUnit.Count, value=1)
    if result.prediction_ms is not None:
        metrics.add_metric(
            name="PredictionLatency",
            unit=MetricUnit.Milliseconds,
            value=round(result.prediction_ms, 1),
        )
    if not result.scored and not result.replayed:
        metrics.add_metric(name="PredictionsPending", unit=MetricUnit.Count, value=1)
    if result.scored:
        metrics.add_metric(
            name=f"Predictions_{result.patient['prediction']['risk_level']}",
            unit=MetricUnit.Count,
            value=1,
        )
    headers = {"Location": f"/patients/{result.patient['_id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(patients.public_patient(result.patient), 201, headers)


@app.route("/patients", methods=["GET"], cors=CORS)
@handle_errors
def list_patients() -> Response:
    user = current_user(app, "patient:list")
    query = parse(PatientQuery, query_params(app))
    db = database()
    items, total = patients.list_patients(db, user, query)
    _audit(user, "patient.list", detail={"patient_ids": [doc["_id"] for doc in items]})
    return json_response(
        {
            "items": [patients.public_patient(doc) for doc in items],
            "total": total,
            "page": query.page,
            "page_size": query.page_size,
        }
    )


def _visible_patient(user: dict[str, Any], patient_id: str) -> dict[str, Any]:
    doc = patients.get_patient(database(), patient_id)
    access.require_patient_visible(user, doc)
    return doc


@app.route("/patients/{patient_id}", methods=["GET"], cors=CORS)
@handle_errors
def get_patient(patient_id: str) -> Response:
    user = current_user(app, "patient:read")
    doc = _visible_patient(user, patient_id)
    _audit(user, "patient.read", patient_id)
    return json_response(patients.public_patient(doc))


def _after_change(
    user: dict[str, Any], action: str, updated: dict[str, Any], detail: dict
) -> Response:
    _audit(user, action, updated["_id"], detail)
    events.publish_patient_event(events.PATIENT_UPDATED, updated)
    return json_response(patients.public_patient(updated))


@app.route("/patients/{patient_id}/assign", methods=["POST"], cors=CORS)
@handle_errors
def assign_patient(patient_id: str) -> Response:
    user = current_user(app, "patient:assign")
    request = parse(AssignRequest, json_body(app))
    doc = _visible_patient(user, patient_id)
    updated = patients.assign_doctor(database(), doc, request.doctor_id, user["_id"])
    return _after_change(
        user, "patient.assign", updated, {"doctor_id": request.doctor_id}
    )


@app.route("/patients/{patient_id}/status", methods=["POST"], cors=CORS)
@handle_errors
def change_status(patient_id: str) -> Response:
    user = current_user(app, "patient:status")
    request = parse(StatusRequest, json_body(app))
    doc = _visible_patient(user, patient_id)
    updated = patients.change_status(database(), doc, request.status.value, user["_id"])
    return _after_change(
        user,
        "patient.status",
        updated,
        {"old": doc["status"], "new": request.status.value},
    )


@app.route("/patients/{patient_id}/notes", methods=["POST"], cors=CORS)
@handle_errors
def add_note(patient_id: str) -> Response:
    user = current_user(app, "patient:note")
    request = parse(NoteRequest, json_body(app))
    doc = _visible_patient(user, patient_id)
    updated = patients.add_note(database(), doc, request.text, user["_id"])
    return _after_change(user, "patient.note", updated, {})


@app.route("/stats", methods=["GET"], cors=CORS)
@handle_errors
def stats() -> Response:
    user = current_user(app, "stats:read")
    return json_response(patients.stats(database(), user))


@app.route("/doctors", methods=["GET"], cors=CORS)
@handle_errors
def list_doctors() -> Response:
    """List active doctors (id and name only) so a doctor can assign a colleague."""
    current_user(app, "doctor:list")
    doctors = [
        {"id": doc["_id"], "name": doc["name"]}
        for doc in users.list_users(database())
        if doc["role"] == "DOCTOR" and doc.get("active")
    ]
    return json_response({"items": doctors})


@app.route("/users", methods=["GET"], cors=CORS)
@handle_errors
def list_users() -> Response:
    current_user(app, "user:manage")
    return json_response(
        {"items": [users.public_user(doc) for doc in users.list_users(database())]}
    )


@app.route("/users", methods=["POST"], cors=CORS)
@handle_errors
def create_user() -> Response:
    admin = current_user(app, "user:manage")
    request = parse(UserCreate, json_body(app))
    doc = users.create_user(database(), request, created_by=admin["_id"])
    _audit(
        admin, "user.create", detail={"target_user_id": doc["_id"], "role": doc["role"]}
    )
    return json_response(users.public_user(doc), 201)


@app.route("/users/{user_id}", methods=["PATCH"], cors=CORS)
@handle_errors
def update_user(user_id: str) -> Response:
    admin = current_user(app, "user:manage")
    request = parse(UserUpdate, json_body(app))
    doc = users.update_user(database(), user_id, request, admin)
    changed = sorted(request.model_dump(exclude_none=True))
    # Field names only: a new password or name never enters the audit trail.
    _audit(admin, "user.update", detail={"target_user_id": user_id, "fields": changed})
    return json_response(users.public_user(doc))


@app.route("/audit", methods=["GET"], cors=CORS)
@handle_errors
def list_audit() -> Response:
    current_user(app, "audit:read")
    query = parse(AuditQuery, query_params(app))
    entries, total = audit.list_entries(
        database(),
        patient_id=query.patient_id,
        user_id=query.user_id,
        page=query.page,
        page_size=query.page_size,
    )
    return json_response(
        {
            "items": entries,
            "total": total,
            "page": query.page,
            "page_size": query.page_size,
        }
    )


@app.route("/model-card", methods=["GET"], cors=CORS)
@handle_errors
def model_card() -> Response:
    current_user(app, "model_card:read")
    try:
        card = prediction.model_card()
    except prediction.PredictionUnavailable as exc:
        raise ServiceUnavailable("prediction function is unavailable") from exc
    return json_response(card)


@app.route("/openapi.json", methods=["GET"], cors=CORS)
@handle_errors
def openapi() -> Response:
    return json_response(build_openapi(app))


# Chalice packages each websocket handler as "app.<function name>", so the
# handlers must be attributes of this module for Lambda to find them.
ws_connect, ws_message, ws_disconnect = register_websocket_routes(app)
