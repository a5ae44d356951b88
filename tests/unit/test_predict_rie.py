"""Prediction handler served by the real Lambda Runtime Interface Emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from ml_container.local_rie import free_port, start_rie, stop_rie
from tests.unit.test_predict_handler import MANIFEST, validation_patients


@pytest.fixture(scope="module")
def lambda_client() -> Iterator[object]:
    port = free_port()
    process = start_rie(port)
    try:
        yield boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="eu-north-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}, read_timeout=10),
        )
    finally:
        stop_rie(process)
    assert process.poll() is not None


def invoke(client, event: dict) -> dict:
    response = client.invoke(FunctionName="function", Payload=json.dumps(event))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


def test_rie_health(lambda_client):
    assert invoke(lambda_client, {"action": "health"}) == {
        "status": "ok",
        "model_version": MANIFEST["model_version"],
    }


def test_rie_scores_real_patients(lambda_client):
    patients = validation_patients(5)
    patients.append({**patients[0], "id": "too-fast", "heart_rate": 400})
    body = invoke(lambda_client, {"patients": patients})
    predictions = body["predictions"]
    assert body["model_version"] == MANIFEST["model_version"]
    assert [p["id"] for p in predictions] == [p["id"] for p in patients]
    for prediction in predictions[:5]:
        assert 0.0 <= prediction["probability"] <= 1.0
        assert len(prediction["reasons"]) == 3
    assert predictions[5] == {
        "id": "too-fast",
        "error": "heart_rate 400 is outside the allowed range 20 to 250/min",
    }
