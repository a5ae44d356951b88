"""Pydantic models for every request body and query string the API accepts.

Each numeric vital carries its unit and plausible range in ``VITAL_RANGES``; the
frontend mirrors the same numbers. A value outside the range is rejected, not clipped,
because a typo in a vital sign must be corrected by the person who entered it.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from triage_core.errors import ValidationFailed
from triage_core.news2 import round_temperature

# field -> (minimum, maximum, unit); inclusive bounds.
VITAL_RANGES: dict[str, tuple[float, float, str]] = {
    "age": (0, 120, "years"),
    "heart_rate": (20, 250, "beats/min"),
    "respiratory_rate": (4, 60, "breaths/min"),
    "spo2": (50, 100, "%"),
    "systolic_bp": (40, 300, "mmHg"),
    "diastolic_bp": (20, 200, "mmHg"),
    "temperature": (30.0, 44.0, "degrees Celsius"),
    "gcs": (3, 15, "points"),
}

MAX_TEXT_LENGTH = 200
MAX_NOTE_LENGTH = 2000


class Role(StrEnum):
    PARAMEDIC = "PARAMEDIC"
    DOCTOR = "DOCTOR"
    ADMIN = "ADMIN"


class PatientStatus(StrEnum):
    INCOMING = "incoming"
    ARRIVED = "arrived"
    IN_TREATMENT = "in_treatment"
    ADMITTED_ICU = "admitted_icu"
    ADMITTED_WARD = "admitted_ward"
    DISCHARGED = "discharged"
    TRANSFERRED = "transferred"


# Control characters, and Unicode bidirectional controls, which can make "gnp.exe"
# display as "exe.png" on another clinician's screen.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e") | frozenset(
    "\u2066\u2067\u2068\u2069"
)


def check_printable(value: str | None, allow_newlines: bool = False) -> str | None:
    """Reject control and bidirectional-override characters in free text."""
    if value is None:
        return None
    for ch in value:
        if ch in _BIDI_CONTROLS:
            raise ValueError(
                f"must not contain the bidirectional control character U+{ord(ch):04X}"
            )
        if ord(ch) < 32 and not (allow_newlines and ch in "\n\t"):
            raise ValueError(f"must not contain the control character U+{ord(ch):04X}")
    return value


class _Strict(BaseModel):
    """Base model: unknown keys are errors, so ``$where`` or dotted keys never pass."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _vital(name: str, *, optional: bool = False) -> Any:
    low, high, unit = VITAL_RANGES[name]
    description = f"{unit}, {low} to {high}"
    # Strict: a JSON true, a string or NaN is a wrong type, not an out-of-range value.
    options: dict[str, Any] = {
        "ge": low,
        "le": high,
        "description": description,
        "strict": True,
        "allow_inf_nan": False,
    }
    if optional:
        return Field(default=None, **options)
    return Field(**options)


class PatientVitals(_Strict):
    """Vital signs and context a paramedic enters at the scene."""

    age: int = _vital("age")
    sex: Literal["female", "male"]
    heart_rate: int = _vital("heart_rate")
    respiratory_rate: int = _vital("respiratory_rate")
    spo2: int = _vital("spo2")
    supplemental_oxygen: bool = Field(strict=True)
    spo2_scale: Literal[1, 2] = Field(
        default=1,
        description=(
            "NEWS2 SpO2 scale; 2 only for documented hypercapnic respiratory failure"
        ),
    )
    systolic_bp: int = _vital("systolic_bp")
    diastolic_bp: int | None = _vital("diastolic_bp", optional=True)
    temperature: float | None = _vital("temperature", optional=True)
    consciousness: Literal["A", "C", "V", "P", "U"] = Field(
        description="AVPU plus new confusion (C)"
    )
    gcs: int | None = _vital("gcs", optional=True)
    injury: bool | None = Field(default=None, strict=True)
    chief_complaint: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)

    @field_validator("temperature")
    @classmethod
    def _round_temperature(cls, value: float | None) -> float | None:
        # NEWS2 bands assume one decimal place, so 36.05 becomes 36.1 before scoring.
        return None if value is None else round_temperature(value)

    @field_validator("chief_complaint")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return check_printable(value) or None

    @field_validator("diastolic_bp")
    @classmethod
    def _diastolic_below_systolic(
        cls, value: int | None, info: ValidationInfo
    ) -> int | None:
        systolic = info.data.get("systolic_bp")
        if value is not None and systolic is not None and value >= systolic:
            raise ValueError(f"must be below systolic_bp={systolic}")
        return value


class LoginRequest(_Strict):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=4096)


class AssignRequest(_Strict):
    doctor_id: str = Field(min_length=1, max_length=64, pattern=r"^usr_[0-9a-f]{32}$")


class StatusRequest(_Strict):
    status: PatientStatus


class NoteRequest(_Strict):
    text: str = Field(min_length=1, max_length=MAX_NOTE_LENGTH)

    @field_validator("text")
    @classmethod
    def _printable(cls, value: str) -> str:
        return check_printable(value, allow_newlines=True) or value


class UserCreate(_Strict):
    email: EmailStr
    name: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    role: Role
    password: str = Field(min_length=12, max_length=256)

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        return check_printable(value) or value


class UserUpdate(_Strict):
    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return check_printable(value)

    name: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_LENGTH)
    role: Role | None = None
    active: bool | None = Field(default=None, strict=True)
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=256,
        description="admin reset; also unlocks the account and ends its tokens",
    )


class PatientQuery(_Strict):
    """Query string of ``GET /patients``; ISO 8601 dates, UTC when no zone is given."""

    status: PatientStatus | None = None
    risk_level: Literal["low", "moderate", "high", "critical", "pending"] | None = None
    submitted_by: str | None = Field(default=None, pattern=r"^usr_[0-9a-f]{32}$")
    since: datetime | None = None
    until: datetime | None = None
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=50, ge=1, le=200)


class AuditQuery(_Strict):
    patient_id: str | None = Field(default=None, pattern=r"^pat_[0-9a-f]{32}$")
    user_id: str | None = Field(default=None, pattern=r"^usr_[0-9a-f]{32}$")
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=100, ge=1, le=500)


MAX_SHOWN_VALUE = 40
SECRET_FIELDS = frozenset({"password", "refresh_token"})


def _show(field: str | None, value: Any) -> str:
    """Render a rejected value as JSON, shortened, and never for a secret field."""
    if field in SECRET_FIELDS:
        return "(hidden)"
    try:
        text = json.dumps(value, default=str)
    except ValueError:
        text = repr(value)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[: MAX_SHOWN_VALUE - 3] + "..."
    return text


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    """Turn one pydantic error into (field, message) naming the value and the range."""
    field = ".".join(str(part) for part in error.get("loc", ())) or None
    value = error.get("input")
    kind = error.get("type", "")
    name = field or "body"
    if field in VITAL_RANGES and kind in {
        "greater_than_equal",
        "less_than_equal",
    }:
        low, high, unit = VITAL_RANGES[field]
        return name, (
            f"{field}={_show(field, value)} is outside the plausible range "
            f"{low} to {high} {unit}"
        )
    if kind == "missing":
        return name, f"{name} is required"
    if kind == "extra_forbidden":
        return name, f"{name} is not an accepted field"
    detail = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if field is None:
        return "body", detail
    return name, f"{name}={_show(field, value)} is invalid: {detail}"


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` against ``model`` or raise ``ValidationFailed``."""
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field, message = _describe(first)
        raise ValidationFailed(message, field=field) from None
