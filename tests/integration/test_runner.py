"""The embedded stack (``make run``) comes up, stores patients and keeps its data."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import services
from infra.local.cohort import CohortRow, read_rows
from infra.local.mongo import ping_probe, start_nx_27017
from infra.local.services import StartupError
from infra.local.stack import EmbeddedStack, StackConfig, StackInfo

pytestmark = pytest.mark.slow


def _cohort_row(row_id: str) -> CohortRow:
    return next(row for row in read_rows() if row.row_id == row_id)


def _admin_headers(info: StackInfo) -> dict[str, str]:
    response = requests.post(
        f"{info.api_url}/auth/login",
        json={"email": info.admin_email, "password": info.admin_password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _post_patient(info: StackInfo, vitals: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{info.api_url}/patients",
        json=vitals,
        headers=_admin_headers(info),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_health_ok_with_mongodb(stack: StackInfo) -> None:
    response = requests.get(f"{stack.api_url}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["mongodb"] == "ok"
    assert body["prediction"] == "ok"


def test_frontend_and_config_served(stack: StackInfo) -> None:
    index = requests.get(stack.base_url + "/", timeout=10)
    assert index.status_code == 200
    assert "<html" in index.text.lower()
    config = requests.get(stack.base_url + "/config.js", timeout=10)
    assert stack.api_url in config.text
    assert stack.websocket_url in config.text


def test_cohort_patient_stored(stack: StackInfo) -> None:
    # Row 4052: SBP 105 (1), HR 126 (2), SpO2 100 (0), RR 25 (3), alert (0),
    # air (0), no temperature recorded: NEWS2 6, medium, partial.
    row = _cohort_row("4052")
    created = _post_patient(stack, row.vitals)
    stored = stack.db().patients.find_one({"_id": created["id"]})
    assert stored is not None
    assert stored["vitals"]["systolic_bp"] == 105
    assert stored["vitals"]["heart_rate"] == 126
    assert stored["vitals"]["respiratory_rate"] == 25
    assert stored["vitals"]["spo2"] == 100
    assert stored["vitals"]["consciousness"] == "A"
    assert (
        "temperature" not in stored["vitals"] or stored["vitals"]["temperature"] is None
    )
    assert stored["news2"]["total"] == 6
    assert stored["news2"]["risk"] == "medium"
    assert stored["news2"]["partial"] is True
    assert stored["news2"]["missing"] == ["temperature"]
    assert stored["prediction"]["state"] == "scored"
    assert 0.0 <= stored["prediction"]["probability"] <= 1.0
    assert stored["risk_sort"] == stored["prediction"]["probability"]
    assert stored["status"] == "incoming"


def test_busy_port_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = StackConfig(var_dir=tmp_path, gateway_port=port)
        with pytest.raises(StartupError) as caught:
            EmbeddedStack(config).start()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "gateway" in message
    assert "TRIAGE_GATEWAY_PORT" in message


@pytest.fixture
def own_stack_config(tmp_path: Path) -> Iterator[StackConfig]:
    yield StackConfig(
        var_dir=tmp_path / "var",
        gateway_port=services.find_free_port(),
        mongo_port=services.find_free_port(),
        moto_port=services.find_free_port(),
        rie_port=services.find_free_port(),
        gateway_in_process=False,
        start_timeout_seconds=90.0,
    )


def test_restart_keeps_data(own_stack_config: StackConfig) -> None:
    first = EmbeddedStack(own_stack_config)
    info = first.start()
    try:
        assert info.first_run is True
        assert info.admin_password_file is not None
        assert info.admin_password_file.stat().st_mode & 0o777 == 0o600
        created = _post_patient(info, _cohort_row("405").vitals)
    finally:
        info.close()
        first.stop()
    assert first.children == []

    second = EmbeddedStack(own_stack_config)
    again = second.start()
    try:
        assert again.first_run is False
        assert again.admin_password == info.admin_password
        stored = again.db().patients.find_one({"_id": created["id"]})
        assert stored is not None
        assert stored["news2"]["total"] == 0
        response = requests.get(
            f"{again.api_url}/patients/{created['id']}",
            headers=_admin_headers(again),
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        again.close()
        second.stop()


def test_mongo_starts_over_stale_pid(tmp_path: Path) -> None:
    # GIVEN a pid file left by a killed run whose PID now belongs to this process
    pid_file = tmp_path / "run" / "mongo.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(f"{os.getpid()}\n")
    port = services.find_free_port()

    child = start_nx_27017(tmp_path / "mongo", port, tmp_path / "log", pid_file)
    try:
        uri = f"mongodb://127.0.0.1:{port}"
        services.wait_until_healthy("nx-27017", ping_probe(uri), 30, child)
        assert pid_file.read_text().strip() == str(child.pid)
    finally:
        services.stop_process(child)
    assert child.popen.returncode is not None
