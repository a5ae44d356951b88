"""Patient vitals validation: each rejection names the field, value and range."""

from __future__ import annotations

from typing import Any

import pytest

from triage_core.errors import ValidationFailed
from triage_core.schemas import VITAL_RANGES, PatientQuery, PatientVitals, parse

VALID: dict[str, Any] = {
    "age": 67,
    "sex": "female",
    "heart_rate": 110,
    "respiratory_rate": 22,
    "spo2": 93,
    "supplemental_oxygen": False,
    "systolic_bp": 105,
    "consciousness": "A",
}


def test_valid_minimal_body_parses() -> None:
    vitals = parse(PatientVitals, VALID)
    assert vitals.spo2_scale == 1
    assert vitals.temperature is None
    assert vitals.gcs is None


def test_temperature_rounded_to_one_decimal() -> None:
    vitals = parse(PatientVitals, {**VALID, "temperature": 36.05})
    assert vitals.temperature == 36.1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", -1),
        ("age", 121),
        ("heart_rate", 19),
        ("heart_rate", 251),
        ("respiratory_rate", 3),
        ("respiratory_rate", 61),
        ("spo2", 49),
        ("spo2", 101),
        ("systolic_bp", 39),
        ("systolic_bp", 301),
        ("diastolic_bp", 19),
        ("temperature", 29.9),
        ("temperature", 44.1),
        ("gcs", 2),
        ("gcs", 16),
    ],
)
def test_out_of_range_vital_names_field_value_range(field: str, value: float) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, field: value})
    low, high, unit = VITAL_RANGES[field]
    assert caught.value.field == field
    assert caught.value.status == 400
    assert f"{field}={value}" in caught.value.message
    assert f"{low} to {high} {unit}" in caught.value.message


@pytest.mark.parametrize(
    "field",
    [
        "age",
        "sex",
        "heart_rate",
        "respiratory_rate",
        "spo2",
        "supplemental_oxygen",
        "systolic_bp",
        "consciousness",
    ],
)
def test_missing_required_field_named(field: str) -> None:
    body = {key: value for key, value in VALID.items() if key != field}
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, body)
    assert caught.value.field == field
    assert caught.value.message == f"{field} is required"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sex", "unknown"),
        ("consciousness", "X"),
        ("supplemental_oxygen", "yes"),
        ("spo2_scale", 3),
        ("heart_rate", {"$gt": 0}),
        ("heart_rate", [72]),
        ("chief_complaint", "x" * 201),
        ("chief_complaint", "chest\x00pain"),
    ],
)
def test_invalid_value_rejected(field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, field: value})
    assert caught.value.field == field
    assert field in caught.value.message


@pytest.mark.parametrize("key", ["$where", "vitals.spo2", "unknown"])
def test_unknown_and_operator_keys_rejected(key: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, key: 1})
    assert caught.value.field == key
    assert caught.value.message == f"{key} is not an accepted field"


def test_diastolic_must_be_below_systolic() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, "systolic_bp": 100, "diastolic_bp": 100})
    assert caught.value.field == "diastolic_bp"
    assert "below systolic_bp=100" in caught.value.message


def test_non_object_body_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, [VALID])
    assert caught.value.field == "body"


def test_query_page_size_bounded() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientQuery, {"page_size": "1000"})
    assert caught.value.field == "page_size"
    assert parse(PatientQuery, {"page_size": "20"}).page_size == 20


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "heart_rate",
            True,
            "heart_rate=true is invalid: Input should be a valid integer",
        ),
        ("heart_rate", "72", 'heart_rate="72" is invalid'),
        ("heart_rate", 72.5, "heart_rate=72.5 is invalid"),
        ("temperature", float("nan"), "temperature=NaN is invalid"),
    ],
)
def test_wrong_type_is_not_called_out_of_range(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, field: value})
    assert caught.value.field == field
    assert caught.value.message.startswith(expected)
    assert "plausible range" not in caught.value.message


def test_bidi_override_rejected_and_escaped() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, "chief_complaint": "gnp\u202eexe"})
    assert caught.value.field == "chief_complaint"
    assert "U+202E" in caught.value.message
    assert "\u202e" not in caught.value.message


def test_long_value_shortened_in_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatientVitals, {**VALID, "chief_complaint": "x" * 5000})
    assert caught.value.field == "chief_complaint"
    assert len(caught.value.message) < 200


def test_password_never_echoed() -> None:
    from triage_core.schemas import UserCreate

    with pytest.raises(ValidationFailed) as caught:
        parse(
            UserCreate,
            {
                "email": "a@b.example",
                "name": "A",
                "role": "DOCTOR",
                "password": "short1",
            },
        )
    assert caught.value.field == "password"
    assert "short1" not in caught.value.message
