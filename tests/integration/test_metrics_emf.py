"""Business metrics leave the API as CloudWatch embedded-metric-format lines."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.roles_helpers import Account, create_account, login, submit

pytestmark = pytest.mark.slow


def _emf_records(log_text: str) -> list[dict[str, Any]]:
    """Return every EMF object in the log; other threads' lines may share a line."""
    decoder = json.JSONDecoder()
    records = []
    position = log_text.find('{"_aws"')
    while position != -1:
        try:
            record, end = decoder.raw_decode(log_text, position)
        except ValueError:
            end = position + 1
        else:
            records.append(record)
        position = log_text.find('{"_aws"', end)
    return records


def test_submission_emits_count_and_latency(stack: Any) -> None:
    tokens = login(stack.api_url, stack.admin_email, stack.admin_password)
    admin = Account("ADMIN", tokens["user"], tokens["access_token"], "")
    medic = create_account(stack.api_url, admin, "PARAMEDIC", "metrics")
    patient = submit(stack.api_url, medic)
    level = patient["prediction"]["risk_level"]

    log_file = stack.log_dir / "gateway.log"
    deadline = time.monotonic() + 10
    found: dict[str, Any] = {}
    while time.monotonic() < deadline and not found:
        for record in _emf_records(log_file.read_text(errors="replace")):
            names = {
                m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            }
            if {"PatientsSubmitted", "PredictionLatency"} <= names:
                found = record
        time.sleep(0.2)
    assert found, "no EMF record with PatientsSubmitted and PredictionLatency"
    assert found["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TriagePlatform"
    units = {
        m["Name"]: m["Unit"] for m in found["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert units["PredictionLatency"] == "Milliseconds"
    assert units["PatientsSubmitted"] == "Count"
    latencies = found["PredictionLatency"]
    values = latencies if isinstance(latencies, list) else [latencies]
    assert all(0 < value < 60_000 for value in values)
    assert f"Predictions_{level}" in units
