"""Model inputs: names, units, plausible ranges and validation of one patient.

Training and inference share this module, so the column order of the model matrix is
defined once. It uses only the standard library, because the prediction image carries no
pydantic (see `handler.py` for the cold-start reason) and the API has already validated
the full request body against `triage_core.schemas` before it calls the function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One model input with the unit and plausible range of the vitals contract."""

    name: str
    label: str
    unit: str
    minimum: float | None = None
    maximum: float | None = None

    def with_unit(self, value: float) -> str:
        """Format a number with its unit, as in "88%" or "34 years"."""
        separator = "" if self.unit in ("%", "/min") else " "
        return f"{_format_number(value)}{separator}{self.unit}".rstrip()

    def describe(self, value: float | str) -> str:
        """Format a value with label and unit, as in "SpO2 88%" or "Age 34 years"."""
        if self.name == "sex":
            return f"{self.label} {value}"
        return f"{self.label} {self.with_unit(float(value))}"


# Column order of the model matrix. Changing it invalidates the committed artifacts.
FEATURES: tuple[Feature, ...] = (
    Feature("age", "Age", "years", 0, 120),
    Feature("sex", "Sex", ""),
    Feature("spo2", "SpO2", "%", 50, 100),
    Feature("respiratory_rate", "Respiratory rate", "/min", 4, 60),
    Feature("heart_rate", "Heart rate", "/min", 20, 250),
    Feature("systolic_bp", "Systolic BP", "mmHg", 40, 300),
)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}

# Sex is the only categorical input; the code is the value the model was trained on.
SEX_CODES: dict[str, int] = {"female": 0, "male": 1}


class PatientError(ValueError):
    """A patient record the model cannot score; the message names field and range."""

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def _format_number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _read_number(patient: Mapping[str, object], feature: Feature) -> float:
    if feature.name not in patient or patient[feature.name] is None:
        raise PatientError(feature.name, None, f"{feature.name} is missing")
    value = patient[feature.name]
    # bool is a subclass of int in Python, but true/false is never a vital sign.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PatientError(
            feature.name, value, f"{feature.name} must be a number, got {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise PatientError(feature.name, value, f"{feature.name} must be finite")
    assert feature.minimum is not None and feature.maximum is not None
    if not feature.minimum <= number <= feature.maximum:
        raise PatientError(
            feature.name,
            value,
            f"{feature.name} {_format_number(number)} is outside the allowed "
            f"range {_format_number(feature.minimum)} to "
            f"{feature.with_unit(feature.maximum)}",
        )
    return number


def patient_to_row(
    patient: Mapping[str, object], sex_codes: Mapping[str, int] = SEX_CODES
) -> list[float]:
    """Validate one patient's vitals and return the model row in `FEATURE_NAMES` order.

    Raises PatientError naming the first invalid field. Fields the model does not use
    (temperature, consciousness, ...) are ignored here.
    """
    row: list[float] = []
    for feature in FEATURES:
        if feature.name == "sex":
            sex = patient.get("sex")
            if not isinstance(sex, str) or sex not in sex_codes:
                allowed = " or ".join(f'"{key}"' for key in sex_codes)
                raise PatientError("sex", sex, f"sex must be {allowed}, got {sex!r}")
            row.append(float(sex_codes[sex]))
        else:
            row.append(_read_number(patient, feature))
    return row
