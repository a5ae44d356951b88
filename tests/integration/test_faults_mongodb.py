"""MongoDB goes away mid-run: clients get 503s, and no acknowledged write is lost.

Runs on a private embedded stack, because the test stops nx-27017 by its PID and
starts it again on the same port and ``--data-dir``. A background client keeps
submitting patients through the gateway during the outage. Every 201 it received
must name a patient that is still stored after the restart.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from infra.local.stack import EmbeddedStack, StackInfo
from tests.fixtures.faults import (
    Session,
    admin_session,
    create_session,
    private_stack,
    start_mongo,
    stop_mongo,
    vitals,
    wait_for,
)

pytestmark = pytest.mark.slow

# The client's read timeout: a request that hangs longer fails the test.
CLIENT_TIMEOUT_SECONDS = 15
ERROR_KEYS = {"code", "message", "field"}


@pytest.fixture(scope="module")
def mongo_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedStack, StackInfo, Session]]:
    with private_stack(tmp_path_factory.mktemp("var-mongo-faults")) as (
        embedded,
        info,
    ):
        medic = create_session(
            info.api_url, admin_session(info), "PARAMEDIC", "mongo-medic"
        )
        yield embedded, info, medic


@dataclass
class Submitter:
    """Posts patients one after another until stopped; records every outcome."""

    api_url: str
    session: Session
    acknowledged: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bad_bodies: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        index = 0
        while not self.stop.is_set():
            response = requests.post(
                f"{self.api_url}/patients",
                json=vitals(index),
                headers=self.session.headers,
                timeout=CLIENT_TIMEOUT_SECONDS,
            )
            self.statuses[response.status_code] += 1
            if response.status_code == 201:
                self.acknowledged.append(response.json()["id"])
            elif not _is_503_error(response):
                self.bad_bodies.append(f"{response.status_code} {response.text}")
            index += 1


def _is_503_error(response: requests.Response) -> bool:
    if response.status_code != 503:
        return False
    error = response.json().get("error", {})
    return set(error) == ERROR_KEYS and error["code"] == "service_unavailable"


def _outage_requests(info: StackInfo, medic: Session) -> list[requests.Response]:
    """One request per kind of route while the database is down."""
    api = info.api_url
    return [
        requests.post(
            f"{api}/patients",
            json=vitals(1),
            headers=medic.headers,
            timeout=CLIENT_TIMEOUT_SECONDS,
        ),
        requests.get(
            f"{api}/patients", headers=medic.headers, timeout=CLIENT_TIMEOUT_SECONDS
        ),
        requests.get(
            f"{api}/me", headers=medic.headers, timeout=CLIENT_TIMEOUT_SECONDS
        ),
        requests.post(
            f"{api}/auth/login",
            json={"email": info.admin_email, "password": info.admin_password},
            timeout=CLIENT_TIMEOUT_SECONDS,
        ),
    ]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_keeps_every_acknowledged_write(
    mongo_stack: tuple[EmbeddedStack, StackInfo, Session], how: str
) -> None:
    embedded, info, medic = mongo_stack
    submitter = Submitter(info.api_url, medic)
    thread = threading.Thread(target=submitter.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(submitter.acknowledged) >= 3, 60, "3 acknowledged writes")
        if how == "sigkill":
            child = embedded._child("mongo")
            assert child is not None
            child.popen.send_signal(signal.SIGKILL)
            child.popen.wait(10)
        stop_mongo(embedded)
        during = _outage_requests(info, medic)
        for response in during:
            assert _is_503_error(response), (response.status_code, response.text)
        before_restart = submitter.statuses[503]
        wait_for(
            lambda: submitter.statuses[503] > before_restart,
            30,
            "the background client saw a 503",
        )
        start_mongo(embedded, info)
        acknowledged_before = len(submitter.acknowledged)
        wait_for(
            lambda: len(submitter.acknowledged) >= acknowledged_before + 3,
            60,
            "3 more acknowledged writes after the restart",
        )
    finally:
        submitter.stop.set()
        thread.join(CLIENT_TIMEOUT_SECONDS + 5)

    assert submitter.bad_bodies == []
    assert set(submitter.statuses) <= {201, 503}
    assert submitter.statuses[503] >= 1
    acknowledged = submitter.acknowledged
    assert len(set(acknowledged)) == len(acknowledged)
    stored = {
        doc["_id"]: doc
        for doc in info.db().patients.find({"_id": {"$in": acknowledged}})
    }
    lost = sorted(set(acknowledged) - set(stored))
    assert lost == [], f"{len(lost)} acknowledged patients lost"
    for doc in stored.values():
        assert doc["submitted_by"] == medic.user["id"]
        assert isinstance(doc["news2"]["total"], int)
    # The API works normally again, including reads of the earlier records.
    first = requests.get(
        f"{info.api_url}/patients/{acknowledged[0]}",
        headers=medic.headers,
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    assert first.status_code == 200
    assert first.json()["id"] == acknowledged[0]
    health = requests.get(f"{info.api_url}/health", timeout=CLIENT_TIMEOUT_SECONDS)
    assert health.json()["mongodb"] == "ok"
    print(
        f"mongodb {how}: {len(acknowledged)} acknowledged, "
        f"{submitter.statuses[503]} answered 503, lost {len(lost)}"
    )
