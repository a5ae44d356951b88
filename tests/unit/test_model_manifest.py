"""Committed model artifacts agree with the manifest, the data and the pins."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path

import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "ml_container" / "model"
MANIFEST = json.loads((MODEL_DIR / "manifest.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_lists_every_artifact():
    on_disk = {p.name for p in MODEL_DIR.iterdir() if p.name != "manifest.json"}
    assert set(MANIFEST["files"]) == on_disk


def test_manifest_hashes_match_files():
    for name, expected in MANIFEST["files"].items():
        assert sha256(MODEL_DIR / name) == expected, name


def test_model_version_names_data_date_and_hash():
    version = MANIFEST["model_version"]
    assert re.fullmatch(r"xgb-\d{8}-[0-9a-f]{8}", version)
    assert version.startswith("xgb-20241231-")
    assert version.endswith(MANIFEST["files"]["xgboost_model.pkl"][:8])


def test_training_data_hash_matches_data_file():
    data = MANIFEST["training_data"]
    assert data["file"] == "data/danish_ed_primary.csv"
    assert sha256(REPO / data["file"]) == data["sha256"]
    assert (data["rows"], data["events"]) == (6249, 111)


def test_data_files_match_sources_page():
    sources = (REPO / "data" / "SOURCES.md").read_text()
    for name in (
        "danish_ed_primary.csv",
        "danish_ed_validation.csv",
        "ktas_triage.csv",
    ):
        assert sha256(REPO / "data" / name) in sources, name


def test_risk_cutoffs_increase_from_zero():
    levels = MANIFEST["risk_levels"]
    assert set(levels) == {"low", "moderate", "high", "critical"}
    assert levels["low"] == 0.0
    assert 0 < levels["moderate"] < levels["high"] < levels["critical"] < 1


def test_features_carry_units_in_model_order():
    names = [f["name"] for f in MANIFEST["features"]]
    assert names == ["age", "sex", "spo2", "respiratory_rate", "heart_rate",
                     "systolic_bp"]  # fmt: skip
    units = {f["name"]: f.get("unit") for f in MANIFEST["features"]}
    assert units["spo2"] == "%"
    assert units["systolic_bp"] == "mmHg"


def test_pickles_hold_plain_objects():
    booster = pickle.loads((MODEL_DIR / "xgboost_model.pkl").read_bytes())
    assert type(booster) is xgb.Booster
    assert booster.num_boosted_rounds() == MANIFEST["num_boost_round"]
    scaler = pickle.loads((MODEL_DIR / "scaler.pkl").read_bytes())
    assert set(scaler) == {"features", "mean", "std", "min", "max"}
    assert all(type(scaler[k]) is np.ndarray for k in ("mean", "std", "min", "max"))
    assert scaler["min"][0] == 16.0  # youngest patient in the 2010 cohort
    encoders = pickle.loads((MODEL_DIR / "label_encoders.pkl").read_bytes())
    assert encoders == {"sex": {"female": 0, "male": 1}}
    table = pickle.loads((MODEL_DIR / "shap_table.pkl").read_bytes())
    assert set(table) == {"features", "thresholds", "values", "bias"}
    assert type(table["bias"]) is float


def test_external_auroc_recorded_for_each_set():
    validation = MANIFEST["validation"]
    for key in ("danish_2013_icu", "ktas_icu_or_death", "ktas_admission"):
        model = validation[key]["model"]
        assert model["ci_low"] < model["auroc"] < model["ci_high"], key
        assert "news2" in validation[key], key
        assert "triage" in validation[key], key


def test_image_requirements_match_dev_pins():
    def pins(path: Path) -> dict[str, str]:
        lines = path.read_text().splitlines()
        pairs = [line.split("==") for line in lines if "==" in line]
        return {name.lower(): version for name, version in pairs}

    image = pins(REPO / "ml_container" / "requirements.txt")
    dev = pins(REPO / "requirements" / "dev.txt")
    assert set(image) == {"numpy", "scipy", "xgboost-cpu"}
    for name, version in image.items():
        assert dev[name] == version, name
