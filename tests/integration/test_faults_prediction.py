"""The prediction function fails: submissions are kept pending and scored later.

Runs on a private embedded stack, because the test stops the prediction function
(the Runtime Interface Emulator and its runtime child) by PID. The gateway child
polls the rescore queue with ``infra.local.event_source`` and runs
``functions/rescore/handler.py``, so the pending patients are scored through the
queue, not by a direct call.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra.local.stack import EmbeddedStack, StackInfo
from ml_container import local_rie
from tests.fixtures.faults import (
    Session,
    admin_session,
    create_session,
    kill_prediction,
    private_stack,
    restart_prediction,
    wait_for,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "ml_container" / "model"
SUBMISSIONS = 12

# NEWS2 by hand (RCP 2017): respiration 24 -> 2, SpO2 93 on scale 1 -> 2, oxygen
# -> 2, systolic 95 -> 2, pulse 120 -> 2, alert -> 0, 38.5 degrees -> 1: total 11.
HIGH_NEWS2_VITALS: dict[str, Any] = {
    "age": 71,
    "sex": "female",
    "heart_rate": 120,
    "respiratory_rate": 24,
    "spo2": 93,
    "supplemental_oxygen": True,
    "systolic_bp": 95,
    "temperature": 38.5,
    "consciousness": "A",
}
HIGH_NEWS2_TOTAL = 11


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedStack, StackInfo, Session]]:
    var_dir = tmp_path_factory.mktemp("var-predict-faults")
    # A cold start after the restart takes about 1.5 s; the longer timeout keeps
    # the first invoke from timing out and overlapping the next one.
    with private_stack(var_dir, {"PREDICT_TIMEOUT_SECONDS": "10"}) as (
        embedded,
        info,
    ):
        medic = create_session(
            info.api_url, admin_session(info), "PARAMEDIC", "fault-medic"
        )
        yield embedded, info, medic


def _sqs(info: StackInfo) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=info.moto_endpoint,
        region_name=info.app_env["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_submissions_while_prediction_down_are_kept_and_rescored(
    faulty: tuple[EmbeddedStack, StackInfo, Session],
) -> None:
    embedded, info, medic = faulty
    db = info.db()
    kill_prediction(embedded)
    assert embedded.exited_components() == []  # nothing else went down with it

    ids = []
    for index in range(SUBMISSIONS):
        body = {**HIGH_NEWS2_VITALS, "chief_complaint": f"fault-{index}"}
        response = requests.post(
            f"{info.api_url}/patients", json=body, headers=medic.headers, timeout=15
        )
        assert response.status_code == 201, response.text
        patient = response.json()
        assert patient["prediction"]["state"] == "pending"
        assert patient["news2"]["total"] == HIGH_NEWS2_TOTAL
        assert patient["news2"]["risk"] == "high"
        assert patient["risk_sort"] == -1
        ids.append(patient["id"])

    stored = {doc["_id"]: doc for doc in db.patients.find({"_id": {"$in": ids}})}
    assert len(stored) == SUBMISSIONS
    for doc in stored.values():
        assert doc["prediction"]["state"] == "pending"
        # The rescore function may already have retried the first ones.
        assert doc["prediction"]["attempts"] >= 1
        assert doc["news2"]["total"] == HIGH_NEWS2_TOTAL
    queued = _sqs(info).get_queue_attributes(
        QueueUrl=info.rescore_queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    assert sum(int(value) for value in queued.values()) >= 1

    restart_prediction(embedded, info)

    def all_scored() -> bool:
        states = [
            doc["prediction"]["state"]
            for doc in db.patients.find({"_id": {"$in": ids}})
        ]
        return states.count("scored") == SUBMISSIONS

    wait_for(all_scored, timeout=90, what=f"{SUBMISSIONS} patients scored")
    for doc in db.patients.find({"_id": {"$in": ids}}):
        assert 0.0 <= doc["prediction"]["probability"] <= 1.0
        assert doc["risk_sort"] == doc["prediction"]["probability"]
        assert doc["prediction"]["risk_level"] in {
            "low",
            "moderate",
            "high",
            "critical",
        }
        assert doc["prediction"]["model_version"].startswith("xgb-")
        assert doc["news2"]["total"] == HIGH_NEWS2_TOTAL
        assert doc["vitals"]["chief_complaint"].startswith("fault-")
    assert db.patients.count_documents({"_id": {"$in": ids}}) == SUBMISSIONS
    assert (
        _sqs(info)
        .receive_message(QueueUrl=info.rescore_dead_letter_queue_url)
        .get("Messages", [])
        == []
    )


def test_health_reports_prediction_outage(
    faulty: tuple[EmbeddedStack, StackInfo, Session],
) -> None:
    embedded, info, _ = faulty
    kill_prediction(embedded)
    try:
        response = requests.get(f"{info.api_url}/health", timeout=15)
        assert response.status_code == 503
        assert response.json()["prediction"] == "unavailable"
        assert response.json()["mongodb"] == "ok"
    finally:
        restart_prediction(embedded, info)
    assert requests.get(f"{info.api_url}/health", timeout=15).status_code == 200


def _tampered_copy(tmp_path: Path, mode: str) -> Path:
    model_dir = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model_dir)
    target = model_dir / "xgboost_model.pkl"
    if mode == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    else:  # a valid pickle of another artifact put in the model's place
        shutil.copyfile(model_dir / "scaler.pkl", target)
    return model_dir


@pytest.mark.parametrize("mode", ["flip", "swap"])
def test_tampered_model_fails_under_emulator_naming_the_file(
    tmp_path: Path, mode: str
) -> None:
    model_dir = _tampered_copy(tmp_path, mode)
    port = local_rie.free_port()
    log_path = tmp_path / "predict.log"
    with log_path.open("wb") as log:
        process = local_rie.start_rie(
            port, env={"MODEL_DIR": str(model_dir)}, output=log, wait=False
        )
    try:
        answer = local_rie.wait_until_ready(port, process, timeout=60)
    finally:
        local_rie.stop_rie(process)
    assert isinstance(answer, dict)
    assert answer.get("errorType") == "ArtifactIntegrityError"
    assert "xgboost_model.pkl" in answer["errorMessage"]
    assert "failed the integrity check" in answer["errorMessage"]
    assert "status" not in answer
    assert "xgboost_model.pkl" in log_path.read_text(errors="replace")


def test_untampered_copy_still_loads(tmp_path: Path) -> None:
    """Control for the test above: the same copy without the change scores fine."""
    model_dir = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model_dir)
    port = local_rie.free_port()
    process = local_rie.start_rie(
        port,
        env={"MODEL_DIR": str(model_dir)},
        output=subprocess.DEVNULL,
        wait=False,
    )
    try:
        answer = local_rie.wait_until_ready(port, process, timeout=60)
    finally:
        local_rie.stop_rie(process)
    assert answer["status"] == "ok"
    assert answer["model_version"].startswith("xgb-")


def test_sweep_scores_pending_patients_without_a_message(
    faulty: tuple[EmbeddedStack, StackInfo, Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rescore_pending`` recovers patients whose rescore message is gone.

    A message leaves the rescore queue for the dead-letter queue after six failed
    receives, the last one about 160 s after the submission with the back-off of
    ``triage_core.rescore``. ``rescore.enqueue`` also gives up when SQS is
    unreachable. Either way the patient stays pending with its NEWS2, and only
    a sweep of pending patients scores it. Nothing schedules that sweep yet.
    """
    from triage_core import events, patients, prediction, storage, submission
    from triage_core.schemas import PatientVitals
    from triage_core.settings import reset_settings

    _, info, medic = faulty
    db = info.db()
    # No message is queued for this patient, so the gateway's rescore poller never
    # invokes the emulator at the same time as this process.
    orphan = patients.build_patient(
        PatientVitals.model_validate(HIGH_NEWS2_VITALS), medic.user["id"]
    )
    db.patients.insert_one(orphan)
    for name, value in info.app_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREDICT_TIMEOUT_SECONDS", "10")
    reset_settings()
    storage.reset_client()
    prediction._lambda_client.cache_clear()
    events._sqs_client.cache_clear()
    try:
        assert db.patients.count_documents({"prediction.state": "pending"}) == 1
        assert submission.rescore_pending(db) == 1
    finally:
        reset_settings()
        storage.reset_client()
        prediction._lambda_client.cache_clear()
        events._sqs_client.cache_clear()
    stored = db.patients.find_one({"_id": orphan["_id"]})
    assert stored["prediction"]["state"] == "scored"
    assert stored["prediction"]["attempts"] == 1
    assert stored["news2"]["total"] == HIGH_NEWS2_TOTAL
