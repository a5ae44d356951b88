"""The committed TreeSHAP table reproduces XGBoost's own pred_contribs output."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import xgboost as xgb

from ml_container.predict.shap_table import contributions
from tests.unit.test_predict_handler import validation_patients

MODEL_DIR = Path(__file__).resolve().parents[2] / "ml_container" / "model"
BOOSTER = pickle.loads((MODEL_DIR / "xgboost_model.pkl").read_bytes())
TABLE = pickle.loads((MODEL_DIR / "shap_table.pkl").read_bytes())
TOLERANCE = 2e-6  # float32 sums of 126 trees in a different order


def reference(matrix: np.ndarray) -> np.ndarray:
    return BOOSTER.predict(xgb.DMatrix(matrix), pred_contribs=True)


def test_table_matches_pred_contribs_on_real_rows():
    patients = validation_patients(500)
    matrix = np.array(
        [[p["age"], p["sex"] == "male", p["spo2"], p["respiratory_rate"],
          p["heart_rate"], p["systolic_bp"]] for p in patients],
        dtype=np.float32,
    )  # fmt: skip
    np.testing.assert_allclose(contributions(TABLE, matrix), reference(matrix),
                               atol=TOLERANCE)  # fmt: skip


def test_table_matches_at_every_threshold():
    # Each split's threshold and values just either side of it, one feature at a time,
    # on top of a typical patient, so every split boundary is crossed.
    base = np.array([60, 0, 97, 16, 80, 135], dtype=np.float32)
    rows = []
    used = TABLE["thresholds"] < np.inf
    for feature, threshold in zip(TABLE["features"][used], TABLE["thresholds"][used],
                                  strict=True):  # fmt: skip
        for value in (threshold - 0.5, threshold, threshold + 0.5):
            row = base.copy()
            row[feature] = value
            rows.append(row)
    matrix = np.unique(np.array(rows, dtype=np.float32), axis=0)
    assert len(matrix) > 300
    np.testing.assert_allclose(contributions(TABLE, matrix), reference(matrix),
                               atol=TOLERANCE)  # fmt: skip


def test_contributions_add_up_to_margin():
    matrix = np.array([[83, 1, 88, 30, 125, 92], [25, 0, 99, 14, 70, 120]],
                      dtype=np.float32)  # fmt: skip
    margin = BOOSTER.inplace_predict(matrix, predict_type="margin")
    np.testing.assert_allclose(contributions(TABLE, matrix).sum(axis=1), margin,
                               atol=TOLERANCE)  # fmt: skip


def test_table_shapes_fit_depth_three_trees():
    trees = BOOSTER.num_boosted_rounds()
    assert TABLE["features"].shape == (trees, 7)
    assert TABLE["thresholds"].shape == (trees, 7)
    assert TABLE["values"].shape == (trees, 128, 6)
