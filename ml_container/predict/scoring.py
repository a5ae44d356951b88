"""Score a batch of patients with one DMatrix, TreeSHAP and Platt calibration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xgboost as xgb

from ml_container.predict.artifacts import Artifacts
from ml_container.predict.explain import Z_LIMIT, reasons, warnings_for
from ml_container.predict.features import FEATURE_NAMES, PatientError, patient_to_row

# Probabilities are rounded before the risk level is chosen, so a client that compares
# the returned probability with the manifest's cut-offs always gets the same level.
PROBABILITY_DECIMALS = 6


def _out_of_distribution(matrix: np.ndarray, scaler: Mapping[str, Any]) -> np.ndarray:
    """Return a row mask of patients that need at least one warning (sex is skipped)."""
    numeric = [i for i, name in enumerate(FEATURE_NAMES) if name != "sex"]
    values = matrix[:, numeric]
    low = scaler["min"][numeric]
    high = scaler["max"][numeric]
    std = np.where(scaler["std"][numeric] > 0, scaler["std"][numeric], 1.0)
    z = np.abs(values - scaler["mean"][numeric]) / std
    return ((values < low) | (values > high) | (z > Z_LIMIT)).any(axis=1)


def score_patients(
    artifacts: Artifacts, patients: Sequence[Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return one prediction or error entry per patient, in order, and bad fields.

    The margin is the sum of the TreeSHAP contributions plus bias, which equals the
    booster's raw output up to float32 rounding, so one `predict` call yields both the
    probability and the reasons.
    """
    results: list[dict[str, Any] | None] = [None] * len(patients)
    rows: list[list[float]] = []
    valid: list[int] = []
    invalid_fields: list[str] = []
    for position, patient in enumerate(patients):
        if not isinstance(patient, Mapping):
            results[position] = {"id": None, "error": "patient must be a JSON object"}
            invalid_fields.append("patient")
            continue
        patient_id = patient.get("id")
        if not isinstance(patient_id, str) or not patient_id:
            results[position] = {
                "id": patient_id,
                "error": "id must be a non-empty string",
            }
            invalid_fields.append("id")
            continue
        try:
            rows.append(patient_to_row(patient, artifacts.sex_codes))
        except PatientError as error:
            results[position] = {"id": patient_id, "error": str(error)}
            invalid_fields.append(error.field)
            continue
        valid.append(position)

    if valid:
        matrix = np.asarray(rows, dtype=np.float32)
        contributions = artifacts.booster.predict(
            xgb.DMatrix(matrix), pred_contribs=True
        )
        margins = contributions.sum(axis=1)
        probabilities = np.round(
            artifacts.calibrate(margins.astype(np.float64)), PROBABILITY_DECIMALS
        )
        feature_contributions = contributions[:, : len(FEATURE_NAMES)]
        needs_warning = _out_of_distribution(matrix, artifacts.scaler)
        version = artifacts.model_version
        for row_index, position in enumerate(valid):
            patient = patients[position]
            probability = float(probabilities[row_index])
            results[position] = {
                "id": patient["id"],
                "probability": probability,
                "risk_level": artifacts.risk_level(probability),
                "model_version": version,
                "reasons": reasons(feature_contributions[row_index], patient),
                "warnings": (
                    warnings_for(matrix[row_index], artifacts.scaler)
                    if needs_warning[row_index]
                    else []
                ),
            }
    return [entry for entry in results if entry is not None], invalid_fields
