"""Invoke the prediction function (a Lambda container image) through boto3.

Locally ``AWS_ENDPOINT_URL_LAMBDA`` points boto3 at the Runtime Interface Emulator,
which serves the same Invoke path under the function name ``function``.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from triage_core.settings import get_settings

logger = logging.getLogger(__name__)

# NOTE: the Runtime Interface Emulator serves one invocation at a time and panics
# (exits) when a second one arrives while the first is running, so the local
# gateway's request thread and its rescore poller must not invoke at once. In
# Lambda a process handles one event at a time, so the lock is uncontended there.
# An invoke that timed out here releases the lock while the emulator may still be
# running it, so the next invoke can still overlap it.
_invoke_lock = threading.Lock()


class PredictionUnavailable(RuntimeError):
    """The prediction function failed, timed out or returned an unusable response."""


@lru_cache(maxsize=1)
def _lambda_client() -> Any:
    timeout = get_settings().predict_timeout_seconds
    return boto3.client(
        "lambda",
        config=Config(
            connect_timeout=min(timeout, 2.0),
            read_timeout=timeout,
            # NOTE: no botocore retries here; a failed score is retried later from the
            # queue so the paramedic is never kept waiting beyond the timeout.
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    """Send one RequestResponse invoke and return the decoded JSON response."""
    name = get_settings().predict_function_name
    try:
        with _invoke_lock:
            response = _lambda_client().invoke(
                FunctionName=name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload, default=str).encode(),
            )
            body = response["Payload"].read()
    except (BotoCoreError, ClientError) as exc:
        raise PredictionUnavailable(f"invoke failed: {type(exc).__name__}") from exc
    if response.get("FunctionError"):
        raise PredictionUnavailable(f"function error: {response['FunctionError']}")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PredictionUnavailable("function returned invalid JSON") from exc


def predict(patients: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Score patients (``id`` plus vitals); return predictions keyed by patient id.

    A patient the function rejected maps to ``{"error": ...}``.
    """
    answer = invoke({"patients": patients})
    predictions = answer.get("predictions")
    if not isinstance(predictions, list):
        raise PredictionUnavailable("function returned no predictions list")
    return {str(item.get("id")): item for item in predictions}


def health() -> dict[str, Any]:
    return invoke({"action": "health"})


def model_card() -> dict[str, Any]:
    return invoke({"action": "model_card"})
