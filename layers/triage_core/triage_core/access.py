"""Role rules in one place: which role may do which action, and on which patients."""

from __future__ import annotations

from typing import Any

from triage_core.errors import Forbidden, NotFound
from triage_core.schemas import PatientStatus, Role

PARAMEDIC, DOCTOR, ADMIN = Role.PARAMEDIC.value, Role.DOCTOR.value, Role.ADMIN.value

PERMISSIONS: dict[str, frozenset[str]] = {
    "patient:create": frozenset({PARAMEDIC, ADMIN}),
    "patient:read": frozenset({PARAMEDIC, DOCTOR, ADMIN}),
    "patient:list": frozenset({PARAMEDIC, DOCTOR, ADMIN}),
    "patient:assign": frozenset({DOCTOR, ADMIN}),
    "patient:status": frozenset({DOCTOR, ADMIN}),
    "patient:note": frozenset({DOCTOR, ADMIN}),
    "stats:read": frozenset({DOCTOR, ADMIN}),
    "doctor:list": frozenset({DOCTOR, ADMIN}),
    "user:manage": frozenset({ADMIN}),
    "audit:read": frozenset({ADMIN}),
    "model_card:read": frozenset({ADMIN}),
}

# Allowed status changes; the last four statuses end the ED episode.
TRANSITIONS: dict[str, frozenset[str]] = {
    PatientStatus.INCOMING: frozenset({PatientStatus.ARRIVED}),
    PatientStatus.ARRIVED: frozenset({PatientStatus.IN_TREATMENT}),
    PatientStatus.IN_TREATMENT: frozenset(
        {
            PatientStatus.ADMITTED_ICU,
            PatientStatus.ADMITTED_WARD,
            PatientStatus.DISCHARGED,
            PatientStatus.TRANSFERRED,
        }
    ),
    PatientStatus.ADMITTED_ICU: frozenset(),
    PatientStatus.ADMITTED_WARD: frozenset(),
    PatientStatus.DISCHARGED: frozenset(),
    PatientStatus.TRANSFERRED: frozenset(),
}

OPEN_STATUSES = (
    PatientStatus.INCOMING.value,
    PatientStatus.ARRIVED.value,
    PatientStatus.IN_TREATMENT.value,
)


def require(user: dict[str, Any], action: str) -> None:
    """Raise ``Forbidden`` unless the user's role may perform ``action``."""
    if user["role"] not in PERMISSIONS[action]:
        raise Forbidden(f"role {user['role']} may not perform {action}")


def can_see_patient(user: dict[str, Any], patient: dict[str, Any]) -> bool:
    if user["role"] == PARAMEDIC:
        return patient.get("submitted_by") == user["_id"]
    return True


def require_patient_visible(user: dict[str, Any], patient: dict[str, Any]) -> None:
    """Hide another paramedic's patient as not found rather than forbidden.

    A 404 keeps patient ids from being confirmed to someone who may not see them.
    """
    if not can_see_patient(user, patient):
        raise NotFound(f"patient {patient['_id']} not found", field="id")


def patient_scope(user: dict[str, Any]) -> dict[str, Any]:
    """Return the MongoDB filter that limits a listing to what the user may see."""
    if user["role"] == PARAMEDIC:
        return {"submitted_by": user["_id"]}
    return {}


def check_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())
