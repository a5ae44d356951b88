"""OpenAPI 3.1 document built from the Chalice route table and the pydantic models."""

from __future__ import annotations

from typing import Any

from chalice import Chalice
from pydantic import BaseModel

from triage_core.access import PERMISSIONS
from triage_core.schemas import (
    AssignRequest,
    AuditQuery,
    LoginRequest,
    NoteRequest,
    PatientQuery,
    PatientVitals,
    RefreshRequest,
    StatusRequest,
    UserCreate,
    UserUpdate,
)

# (method, path) -> (summary, request body model, query model, permission or None)
OPERATIONS: dict[tuple[str, str], tuple[str, Any, Any, str | None]] = {
    ("GET", "/health"): ("Check MongoDB and the prediction function", None, None, None),
    ("POST", "/auth/login"): ("Log in and receive tokens", LoginRequest, None, None),
    ("POST", "/auth/refresh"): ("Exchange a refresh token", RefreshRequest, None, None),
    ("GET", "/me"): ("Return the current user", None, None, ""),
    ("POST", "/patients"): (
        "Submit a patient's vitals; stores, scores NEWS2 and ICU risk",
        PatientVitals,
        None,
        "patient:create",
    ),
    ("GET", "/patients"): (
        "List visible patients, highest ICU risk first",
        None,
        PatientQuery,
        "patient:list",
    ),
    ("GET", "/patients/{patient_id}"): ("Read one patient", None, None, "patient:read"),
    ("POST", "/patients/{patient_id}/assign"): (
        "Assign a doctor",
        AssignRequest,
        None,
        "patient:assign",
    ),
    ("POST", "/patients/{patient_id}/status"): (
        "Change the workflow status",
        StatusRequest,
        None,
        "patient:status",
    ),
    ("POST", "/patients/{patient_id}/notes"): (
        "Add a clinical note",
        NoteRequest,
        None,
        "patient:note",
    ),
    ("GET", "/stats"): ("Counts for the board", None, None, "stats:read"),
    ("GET", "/doctors"): (
        "List active doctors for assignment",
        None,
        None,
        "doctor:list",
    ),
    ("GET", "/users"): ("List users", None, None, "user:manage"),
    ("POST", "/users"): ("Create a user", UserCreate, None, "user:manage"),
    ("PATCH", "/users/{user_id}"): (
        "Change a user's name, role or active flag",
        UserUpdate,
        None,
        "user:manage",
    ),
    ("GET", "/audit"): ("Read the audit trail", None, AuditQuery, "audit:read"),
    ("GET", "/model-card"): ("Model card and plots", None, None, "model_card:read"),
    ("GET", "/openapi.json"): ("This document", None, None, None),
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def build_openapi(app: Chalice) -> dict[str, Any]:
    """Describe every route registered on ``app``; unknown routes get a bare entry."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, methods in sorted(app.routes.items()):
        for method in sorted(methods):
            summary, body, query, permission = OPERATIONS.get(
                (method, path), (f"{method} {path}", None, None, "")
            )
            operation: dict[str, Any] = {"summary": summary, "responses": {}}
            parameters = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
                for name in methods[method].view_args
            ]
            if query is not None:
                parameters += _query_parameters(query)
            if method == "POST" and path == "/patients":
                parameters.append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9_.:-]{8,128}$",
                        },
                    }
                )
            if parameters:
                operation["parameters"] = parameters
            if body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _schema(body, components)}
                    },
                }
            ok = (
                "201"
                if (method, path) in {("POST", "/patients"), ("POST", "/users")}
                else "200"
            )
            operation["responses"][ok] = {"description": "success"}
            for status, text in (
                ("400", "invalid input"),
                ("503", "dependency unavailable"),
            ):
                operation["responses"][status] = {
                    "description": text,
                    "content": {"application/json": {"schema": error_ref}},
                }
            if permission is not None:
                operation["security"] = [{"bearer": []}]
                roles = sorted(PERMISSIONS.get(permission, []))
                if roles:
                    operation["x-roles"] = roles
                for status, text in (
                    ("401", "missing or invalid token"),
                    ("403", "role not allowed"),
                ):
                    operation["responses"][status] = {
                        "description": text,
                        "content": {"application/json": {"schema": error_ref}},
                    }
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Triage platform API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
