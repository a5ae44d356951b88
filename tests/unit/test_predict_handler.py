"""Prediction handler on real Danish 2013 validation rows."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml_container.predict import handler as handler_module
from ml_container.predict.artifacts import load_artifacts
from ml_container.predict.handler import handler

REPO = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((REPO / "ml_container/model/manifest.json").read_text())
UNITS = {"age": " years", "spo2": "%", "respiratory_rate": "/min",
         "heart_rate": "/min", "systolic_bp": " mmHg"}  # fmt: skip


def validation_patients(count: int = 200) -> list[dict[str, Any]]:
    """Return the first `count` 2013 rows with age and all four vitals recorded."""
    patients = []
    with (REPO / "data/danish_ed_validation.csv").open(newline="") as handle:
        for record in csv.DictReader(handle):
            vitals = [record[c] for c in ("age", "sat", "rf", "puls", "bts")]
            if any(v in ("", "0") for v in vitals):
                continue
            patients.append(
                {
                    "id": f"row-{record['rowname']}",
                    "age": int(float(record["age"])),
                    # 0 is female and 1 male; data/SOURCES.md gives the evidence.
                    "sex": "male" if record["sex"] == "1.0" else "female",
                    "spo2": int(record["sat"]),
                    "respiratory_rate": int(record["rf"]),
                    "heart_rate": int(record["puls"]),
                    "systolic_bp": int(record["bts"]),
                    "supplemental_oxygen": False,
                    "consciousness": "A",
                }
            )
            if len(patients) == count:
                break
    return patients


def expected_level(probability: float) -> str:
    cutoffs = MANIFEST["risk_levels"]
    for level in ("critical", "high", "moderate"):
        if probability >= cutoffs[level]:
            return level
    return "low"


@pytest.fixture(scope="module")
def scored() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    patients = validation_patients()
    return patients, handler({"patients": patients}, None)


def test_batch_returns_one_prediction_per_patient(scored):
    patients, response = scored
    assert response["model_version"] == MANIFEST["model_version"]
    assert [p["id"] for p in response["predictions"]] == [p["id"] for p in patients]


def test_probabilities_within_unit_interval(scored):
    _, response = scored
    probabilities = [p["probability"] for p in response["predictions"]]
    assert min(probabilities) >= 0.0
    assert max(probabilities) <= 1.0
    assert len(set(probabilities)) > 50  # the model separates real patients


def test_risk_levels_follow_manifest_cutoffs(scored):
    _, response = scored
    levels = set()
    for prediction in response["predictions"]:
        assert prediction["risk_level"] == expected_level(prediction["probability"])
        levels.add(prediction["risk_level"])
    assert levels == {"low", "moderate", "high", "critical"}


def test_reasons_quote_the_real_values(scored):
    patients, response = scored
    for patient, prediction in zip(patients, response["predictions"], strict=True):
        reasons = prediction["reasons"]
        assert len(reasons) == 3
        for reason in reasons:
            value = patient[reason["feature"]]
            assert reason["value"] == value
            assert reason["direction"] in ("raises", "lowers")
            assert (reason["contribution"] > 0) == (reason["direction"] == "raises")
            unit = UNITS.get(reason["feature"], "")
            assert f"{value}{unit} {reason['direction']} risk" in reason["text"]


def test_probability_equals_booster_output(scored):
    patients, response = scored
    artifacts = load_artifacts()
    matrix = np.array(
        [[p["age"], p["sex"] == "male", p["spo2"], p["respiratory_rate"],
          p["heart_rate"], p["systolic_bp"]] for p in patients],
        dtype=np.float32,
    )  # fmt: skip
    margin = artifacts.booster.inplace_predict(matrix, predict_type="margin")
    expected = artifacts.calibrate(margin.astype(np.float64))
    returned = np.array([p["probability"] for p in response["predictions"]])
    np.testing.assert_allclose(returned, expected, atol=2e-6)


def test_typical_adult_has_no_warnings():
    patient = {"id": "p", "age": 60, "sex": "female", "spo2": 97,
               "respiratory_rate": 16, "heart_rate": 80,
               "systolic_bp": 135}  # fmt: skip
    prediction = handler({"patients": [patient]}, None)["predictions"][0]
    assert prediction["warnings"] == []


def test_child_gets_age_warning():
    patient = {**validation_patients(1)[0], "id": "child", "age": 10}
    warnings = handler({"patients": [patient]}, None)["predictions"][0]["warnings"]
    assert [w["field"] for w in warnings] == ["age"]
    assert warnings[0]["value"] == 10
    assert (
        "age 10 is outside the training cohort (16 to 108 years)"
        in (warnings[0]["message"])
    )


def test_spo2_60_gets_distribution_warning():
    patient = {**validation_patients(1)[0], "id": "hypoxic", "spo2": 60}
    prediction = handler({"patients": [patient]}, None)["predictions"][0]
    fields = [w["field"] for w in prediction["warnings"]]
    assert fields == ["spo2"]
    assert "spo2 60 is" in prediction["warnings"][0]["message"]
    assert "below the training mean" in prediction["warnings"][0]["message"]


def test_invalid_patients_get_error_entries():
    good = validation_patients(1)[0]
    patients = [
        {**good, "id": "bad-spo2", "spo2": 300},
        {**good, "id": "no-sex", "sex": None},
        {**good, "id": "text-rate", "heart_rate": "fast"},
        {key: value for key, value in good.items() if key != "id"},
        good,
    ]
    predictions = handler({"patients": patients}, None)["predictions"]
    assert predictions[0] == {
        "id": "bad-spo2",
        "error": "spo2 300 is outside the allowed range 50 to 100%",
    }
    assert predictions[1] == {
        "id": "no-sex",
        "error": 'sex must be "female" or "male", got None',
    }
    assert predictions[2]["error"] == "heart_rate must be a number, got 'fast'"
    assert predictions[3] == {"id": None, "error": "id must be a non-empty string"}
    assert predictions[4]["id"] == good["id"]
    assert 0.0 <= predictions[4]["probability"] <= 1.0


def test_health_action_returns_version():
    assert handler({"action": "health"}, None) == {
        "status": "ok",
        "model_version": MANIFEST["model_version"],
    }


def test_model_card_action_returns_png_plots():
    response = handler({"action": "model_card"}, None)
    assert response["markdown"].startswith(f"# Model card: {MANIFEST['model_version']}")
    assert response["manifest"] == MANIFEST
    assert set(response["plots"]) == {"roc", "calibration", "feature_importance"}
    for url in response["plots"].values():
        prefix = "data:image/png;base64,"
        assert url.startswith(prefix)
        assert base64.b64decode(url[len(prefix) :])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (
            {"action": "retrain"},
            "unknown action 'retrain'; use 'health' or 'model_card'",
        ),
        ({"patients": "p1"}, "event needs 'patients' (a list) or 'action'"),
        (["not", "a", "dict"], "event must be a JSON object"),
    ],
)
def test_malformed_events_return_errors(event, error):
    assert handler(event, None) == {"error": error}


def test_artifacts_loaded_once_per_container():
    handler({"action": "health"}, None)
    first = handler_module._artifacts
    handler({"action": "health"}, None)
    assert handler_module._artifacts is first


def test_heart_rate_above_training_max_warns():
    patient = {**validation_patients(1)[0], "id": "tachy", "heart_rate": 230}
    warnings = handler({"patients": [patient]}, None)["predictions"][0]["warnings"]
    assert [w["field"] for w in warnings] == ["heart_rate"]
    assert warnings[0]["message"] == (
        "heart_rate 230 is outside the training cohort (21 to 209/min)"
    )
