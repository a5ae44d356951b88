"""Lambda handler of the prediction function: `ml_container.predict.handler.handler`.

Events (see docs/architecture.md, "Prediction function payload"):

- `{"patients": [{"id": ..., <vitals>}, ...]}` returns `{"model_version",
  "predictions"}` with one entry per patient, in order; an invalid patient gets
  `{"id", "error"}`.
- `{"action": "health"}` returns `{"status": "ok", "model_version"}`.
- `{"action": "model_card"}` returns `{"markdown", "manifest", "plots"}` with each plot
  as a `data:image/png;base64,` URL.

Any other event returns `{"error": ...}`. The artifacts are loaded and hash-checked on
the first event of a container and kept for later ones. A failed check raises
`ArtifactIntegrityError`, so the invocation fails instead of scoring with a tampered
model.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from typing import Any

from ml_container.predict.artifacts import Artifacts, load_artifacts, read_verified
from ml_container.predict.json_logging import get_logger
from ml_container.predict.scoring import score_patients

logger = get_logger("ml_container.predict")

_artifacts: Artifacts | None = None
_model_card: dict[str, Any] | None = None


def get_artifacts() -> Artifacts:
    """Return the container's artifacts, loading them on first use."""
    global _artifacts
    if _artifacts is None:
        started = time.perf_counter()
        _artifacts = load_artifacts()
        logger.info(
            "loaded model artifacts",
            extra={
                "model_version": _artifacts.model_version,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    return _artifacts


def _model_card_payload(artifacts: Artifacts) -> dict[str, Any]:
    global _model_card
    if _model_card is None:
        files = artifacts.manifest["files"]
        card_name = "model_card.md"
        markdown = read_verified(artifacts.model_dir, card_name, files[card_name])
        plots = {}
        for name, file_name in artifacts.manifest["plots"].items():
            data = read_verified(artifacts.model_dir, file_name, files[file_name])
            plots[name] = "data:image/png;base64," + base64.b64encode(data).decode()
        _model_card = {
            "markdown": markdown.decode("utf-8"),
            "manifest": artifacts.manifest,
            "plots": plots,
        }
    return _model_card


def _request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Route one Lambda event; see the module docstring for the shapes."""
    artifacts = get_artifacts()
    request_id = _request_id(context)
    if not isinstance(event, Mapping):
        logger.warning(
            "event is not a JSON object", extra={"function_request_id": request_id}
        )
        return {"error": "event must be a JSON object"}

    action = event.get("action")
    if action == "health":
        return {"status": "ok", "model_version": artifacts.model_version}
    if action == "model_card":
        return _model_card_payload(artifacts)
    if action is not None:
        logger.warning(
            "unknown action",
            extra={"function_request_id": request_id, "action": str(action)},
        )
        return {"error": f"unknown action {action!r}; use 'health' or 'model_card'"}

    patients = event.get("patients")
    if not isinstance(patients, list):
        logger.warning(
            "event has no patients list", extra={"function_request_id": request_id}
        )
        return {"error": "event needs 'patients' (a list) or 'action'"}
    started = time.perf_counter()
    predictions, invalid_fields = score_patients(artifacts, patients)
    # Counts and field names only: values and ids of patients never reach the log.
    # Lambda already writes START/END/REPORT lines per invocation, so a clean batch is
    # logged at DEBUG: formatting the line cost about a fifth of a warm single-patient
    # call. A batch with rejected patients is logged at INFO.
    logger.log(
        logging.INFO if invalid_fields else logging.DEBUG,
        "scored patients",
        extra={
            "function_request_id": request_id,
            "patients": len(patients),
            "errors": len(invalid_fields),
            "invalid_fields": sorted(set(invalid_fields)),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return {"model_version": artifacts.model_version, "predictions": predictions}
