"""Load the model artifacts after checking each file's SHA-256 against `manifest.json`.

A pickle can run arbitrary code when it is loaded, so no file is unpickled before its
hash matches the manifest. The manifest itself is plain JSON and is trusted as shipped
in the image; it is what `make model` wrote next to the pickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from ml_container.predict.explain import WarningBounds
from ml_container.predict.features import FEATURE_NAMES

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "xgboost_model.pkl"
SCALER_FILE = "scaler.pkl"
ENCODERS_FILE = "label_encoders.pkl"
SHAP_FILE = "shap_table.pkl"
REQUIRED_FILES = (MODEL_FILE, SCALER_FILE, ENCODERS_FILE, SHAP_FILE)
RISK_LEVELS = ("low", "moderate", "high", "critical")


class ArtifactIntegrityError(RuntimeError):
    """An artifact is missing or its SHA-256 differs from the manifest."""


@dataclass(frozen=True)
class Artifacts:
    """Everything the handler needs, loaded once per container."""

    model_dir: Path
    manifest: dict[str, Any]
    booster: xgb.Booster
    scaler: dict[str, np.ndarray]
    sex_codes: dict[str, int]
    shap_table: dict[str, Any]

    @property
    def model_version(self) -> str:
        return str(self.manifest["model_version"])

    @cached_property
    def warning_bounds(self) -> WarningBounds:
        """Training-distribution limits, precomputed once for the warning check."""
        return WarningBounds(self.scaler)

    @property
    def cutoffs(self) -> list[tuple[str, float]]:
        """Risk levels with their lower probability bound, highest level first."""
        levels = self.manifest["risk_levels"]
        return [(level, float(levels[level])) for level in reversed(RISK_LEVELS)]

    def risk_level(self, probability: float) -> str:
        """Return the highest level whose lower bound the probability reaches."""
        for level, bound in self.cutoffs:
            if probability >= bound:
                return level
        return "low"

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        """Map raw log-odds to calibrated probabilities (Platt scaling)."""
        calibration = self.manifest["calibration"]
        z = calibration["slope"] * margin + calibration["intercept"]
        return 1.0 / (1.0 + np.exp(-z))


def default_model_dir() -> Path:
    """Return MODEL_DIR, else ${LAMBDA_TASK_ROOT}/model, else ml_container/model."""
    if os.environ.get("MODEL_DIR"):
        return Path(os.environ["MODEL_DIR"])
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and (Path(task_root) / "model" / MANIFEST_FILE).is_file():
        return Path(task_root) / "model"
    return Path(__file__).resolve().parents[1] / "model"


def read_verified(model_dir: Path, name: str, expected: str) -> bytes:
    """Return a file's bytes; raise ArtifactIntegrityError naming file and hashes."""
    path = model_dir / name
    if not path.is_file():
        raise ArtifactIntegrityError(
            f"artifact {name} is listed in {MANIFEST_FILE} but missing from {model_dir}"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactIntegrityError(
            f"artifact {name} failed the integrity check: manifest SHA-256 {expected}, "
            f"file SHA-256 {actual}; rebuild it with `make model`"
        )
    return data


def load_artifacts(model_dir: Path | None = None) -> Artifacts:
    """Verify every file listed in the manifest, then unpickle the four pickles.

    Raises ArtifactIntegrityError on a missing file, a hash mismatch or a manifest whose
    feature list differs from `features.FEATURE_NAMES`.
    """
    model_dir = model_dir or default_model_dir()
    manifest = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    files: dict[str, str] = manifest.get("files", {})
    for name in REQUIRED_FILES:
        if name not in files:
            raise ArtifactIntegrityError(f"{MANIFEST_FILE} has no SHA-256 for {name}")
    verified = {
        name: read_verified(model_dir, name, sha) for name, sha in files.items()
    }
    names = [entry["name"] for entry in manifest["features"]]
    if tuple(names) != FEATURE_NAMES:
        raise ArtifactIntegrityError(
            f"manifest features {names} differ from the code's {list(FEATURE_NAMES)}"
        )
    booster = pickle.loads(verified[MODEL_FILE])
    if not isinstance(booster, xgb.Booster):
        raise ArtifactIntegrityError(
            f"{MODEL_FILE} contains {type(booster).__name__}, expected xgboost.Booster"
        )
    scaler = pickle.loads(verified[SCALER_FILE])
    encoders = pickle.loads(verified[ENCODERS_FILE])
    return Artifacts(
        model_dir=model_dir,
        manifest=manifest,
        booster=booster,
        scaler=scaler,
        sex_codes=dict(encoders["sex"]),
        shap_table=pickle.loads(verified[SHAP_FILE]),
    )
