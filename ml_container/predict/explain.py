"""Turn SHAP contributions into reasons; flag inputs unlike the training cohort."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ml_container.predict.features import FEATURE_NAMES, FEATURES, Feature

REASON_COUNT = 3
# |z| above this, measured against the training mean and standard deviation, earns a
# warning even when the value lies inside the training min/max.
Z_LIMIT = 4.0
ADULT_AGE = 16


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 1)


def _display_value(feature: Feature, patient: Mapping[str, Any]) -> Any:
    value = patient[feature.name]
    return value if feature.name == "sex" else _number(value)


def reasons(
    contributions: np.ndarray, patient: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return the three inputs with the largest |SHAP contribution| for one patient.

    `contributions` is one row of `Booster.predict(..., pred_contribs=True)` without the
    bias column, in log-odds. Platt scaling is monotone increasing, so a positive
    contribution also raises the calibrated probability.
    """
    order = np.argsort(-np.abs(contributions), kind="stable")[:REASON_COUNT]
    result = []
    for index in order:
        feature = FEATURES[index]
        contribution = float(contributions[index])
        direction = "raises" if contribution > 0 else "lowers"
        value = _display_value(feature, patient)
        result.append(
            {
                "feature": feature.name,
                "value": value,
                "direction": direction,
                "contribution": round(contribution, 3),
                "text": f"{feature.describe(value)} {direction} risk",
            }
        )
    return result


def warnings_for(
    row: np.ndarray, scaler: Mapping[str, np.ndarray]
) -> list[dict[str, Any]]:
    """List inputs outside the training min/max or over `Z_LIMIT` SDs from the mean."""
    found = []
    for index, feature in enumerate(FEATURES):
        if feature.name == "sex":
            continue
        value = float(row[index])
        low, high = float(scaler["min"][index]), float(scaler["max"][index])
        rounded = _number(value)
        span = f"{_number(low)} to {feature.with_unit(high)}"
        if value < low or value > high:
            message = (
                f"{feature.name} {rounded} is outside the training cohort ({span})"
            )
            if feature.name == "age" and value < ADULT_AGE:
                message += "; the model was trained on adults and never saw children"
        else:
            std = float(scaler["std"][index])
            z = (value - float(scaler["mean"][index])) / std if std > 0 else 0.0
            if abs(z) <= Z_LIMIT:
                continue
            message = (
                f"{feature.name} {rounded} is {abs(z):.1f} standard deviations "
                f"{'below' if z < 0 else 'above'} the training mean; few training "
                "patients had such values"
            )
        found.append({"field": feature.name, "value": rounded, "message": message})
    return found


class WarningBounds:
    """Per-feature limits beyond which `warnings_for` writes a warning."""

    def __init__(self, scaler: Mapping[str, Any]) -> None:
        self.columns = [i for i, name in enumerate(FEATURE_NAMES) if name != "sex"]
        self.low = np.asarray(scaler["min"])[self.columns]
        self.high = np.asarray(scaler["max"])[self.columns]
        self.mean = np.asarray(scaler["mean"])[self.columns]
        self.max_distance = Z_LIMIT * np.asarray(scaler["std"])[self.columns]

    def rows_to_warn(self, matrix: np.ndarray) -> np.ndarray:
        """Return a row mask of patients that need at least one warning."""
        values = matrix[:, self.columns]
        outside = (values < self.low) | (values > self.high)
        far = np.abs(values - self.mean) > self.max_distance
        return (outside | far).any(axis=1)
