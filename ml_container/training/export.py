"""Write the model artifacts and `manifest.json` so that reruns produce identical bytes.

Determinism rules: pickles use a fixed protocol, JSON is written with sorted keys and no
timestamps, and the model version uses the data's date, never the clock.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from ml_container.predict.features import FEATURE_NAMES, FEATURES, SEX_CODES

PICKLE_PROTOCOL = 4
MODEL_FILE = "xgboost_model.pkl"
SCALER_FILE = "scaler.pkl"
ENCODERS_FILE = "label_encoders.pkl"
SHAP_FILE = "shap_table.pkl"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "model_card.md"

# Date of the data snapshot in the model version: the upstream commit (2024-12-31) that
# published the R files our Danish CSVs were exported from. It changes only with the
# data.
DATA_DATE = "20241231"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def scaler_stats(x: np.ndarray) -> dict[str, Any]:
    """Return per-feature mean, std, min and max of the training rows, ignoring NaN."""
    return {
        "features": list(FEATURE_NAMES),
        "mean": np.nanmean(x, axis=0),
        "std": np.nanstd(x, axis=0),
        "min": np.nanmin(x, axis=0),
        "max": np.nanmax(x, axis=0),
    }


def write_pickles(
    model_dir: Path,
    booster: xgb.Booster,
    scaler: dict[str, Any],
    shap_table: dict[str, Any],
) -> dict[str, str]:
    """Pickle booster, scaler, label encoders and SHAP table; return name -> SHA-256."""
    # Inference scores one small batch at a time; a single thread avoids pool start-up.
    booster.set_param({"nthread": 1})
    payloads = {
        MODEL_FILE: pickle.dumps(booster, protocol=PICKLE_PROTOCOL),
        SCALER_FILE: pickle.dumps(scaler, protocol=PICKLE_PROTOCOL),
        ENCODERS_FILE: pickle.dumps({"sex": dict(SEX_CODES)}, protocol=PICKLE_PROTOCOL),
        SHAP_FILE: pickle.dumps(shap_table, protocol=PICKLE_PROTOCOL),
    }
    hashes = {}
    for name, data in payloads.items():
        (model_dir / name).write_bytes(data)
        hashes[name] = _sha256(data)
    return hashes


def model_version(model_sha: str) -> str:
    """Return "xgb-<data date>-<first 8 hex of the model pickle's SHA-256>"."""
    return f"xgb-{DATA_DATE}-{model_sha[:8]}"


def feature_entries(scaler: dict[str, Any]) -> list[dict[str, Any]]:
    """Describe each input with its unit, allowed range and training distribution."""
    entries = []
    for index, feature in enumerate(FEATURES):
        entry: dict[str, Any] = {"name": feature.name, "label": feature.label}
        if feature.name == "sex":
            entry["values"] = dict(SEX_CODES)
        else:
            entry["unit"] = feature.unit
            entry["allowed_min"] = feature.minimum
            entry["allowed_max"] = feature.maximum
        entry["training"] = {
            key: round(float(scaler[key][index]), 4)
            for key in ("mean", "std", "min", "max")
        }
        entries.append(entry)
    return entries


def library_versions() -> dict[str, str]:
    """Return versions of the libraries that shape the artifacts."""
    names = ("xgboost-cpu", "numpy", "scipy", "scikit-learn", "matplotlib")
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in names},
    }


def write_manifest(model_dir: Path, manifest: dict[str, Any]) -> None:
    """Add the SHA-256 of every other file in `model_dir` and write `manifest.json`."""
    manifest["files"] = {
        path.name: _sha256(path.read_bytes())
        for path in sorted(model_dir.iterdir())
        if path.is_file() and path.name != MANIFEST_FILE
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
    (model_dir / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
