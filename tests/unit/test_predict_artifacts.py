"""Integrity check of the model artifacts before anything is unpickled."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from ml_container.predict import artifacts as artifacts_module
from ml_container.predict import handler as handler_module
from ml_container.predict.artifacts import ArtifactIntegrityError, load_artifacts

MODEL_DIR = Path(__file__).resolve().parents[2] / "ml_container" / "model"


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def flip_byte(path: Path, offset: int = 20) -> tuple[str, str]:
    """Invert one byte in place; return the SHA-256 before and after."""
    data = bytearray(path.read_bytes())
    before = hashlib.sha256(data).hexdigest()
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return before, hashlib.sha256(data).hexdigest()


def test_copied_artifacts_load(model_copy):
    artifacts = load_artifacts(model_copy)
    assert artifacts.model_dir == model_copy
    assert artifacts.sex_codes == {"female": 0, "male": 1}


@pytest.mark.parametrize("name", ["xgboost_model.pkl", "scaler.pkl"])
def test_tampered_pickle_rejected_unread(model_copy, monkeypatch, name):
    expected, actual = flip_byte(model_copy / name)
    unpickled = []
    monkeypatch.setattr(
        artifacts_module.pickle, "loads", lambda data: unpickled.append(data)
    )
    with pytest.raises(ArtifactIntegrityError) as caught:
        load_artifacts(model_copy)
    message = str(caught.value)
    assert f"artifact {name} failed the integrity check" in message
    assert f"manifest SHA-256 {expected}" in message
    assert f"file SHA-256 {actual}" in message
    assert unpickled == []


def test_tampered_plot_rejected(model_copy):
    flip_byte(model_copy / "roc.png", offset=100)
    with pytest.raises(ArtifactIntegrityError, match="artifact roc.png failed"):
        load_artifacts(model_copy)


def test_missing_pickle_named(model_copy):
    (model_copy / "label_encoders.pkl").unlink()
    with pytest.raises(ArtifactIntegrityError, match="label_encoders.pkl is listed"):
        load_artifacts(model_copy)


def test_handler_fails_on_tampered_model_dir(model_copy, monkeypatch):
    flip_byte(model_copy / "xgboost_model.pkl")
    monkeypatch.setenv("MODEL_DIR", str(model_copy))
    monkeypatch.setattr(handler_module, "_artifacts", None)
    with pytest.raises(ArtifactIntegrityError, match="xgboost_model.pkl"):
        handler_module.handler({"action": "health"}, None)
    assert handler_module._artifacts is None
