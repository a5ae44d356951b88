"""Submit-to-board latency: POST /patients to `patient.created` on 100 dashboards.

Starts the embedded stack (nx-27017, moto, the prediction function under the Runtime
Interface Emulator, the gateway as a child process) on free loopback ports with a
temporary data folder. As the bootstrap admin it creates a paramedic and a doctor,
opens DASHBOARDS websocket connections as the doctor, each subscribed to the board,
then posts validation-cohort patients one at a time as the paramedic. Per patient it
records two latencies from the moment the request is sent:

- HTTP: until the 201 response is read;
- event: until the last of the dashboards has received that patient's
  `patient.created` message (API -> SQS -> event source poller -> notify function ->
  `@connections` API -> websocket).

Baseline, same run and same client: GET /api/openapi.json, a route that checks no
token and reads no database. It is the floor of one request through the gateway and
the app. Target: event p99 <= 100 ms.

The dashboards run in this process on one asyncio thread, so the event time includes
reading 100 frames here. On 2 cores that share is part of the figure.

Run: `python -m bench.bench_end_to_end [--patients N] [--dashboards N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from websockets.asyncio.client import ClientConnection, connect

from infra.local import services
from infra.local.cohort import read_rows
from infra.local.stack import EmbeddedStack, StackConfig, StackInfo

TARGET_EVENT_P99_MS = 100.0
EVENT_WAIT_SECONDS = 10.0
# Stop submitting after this long even if fewer patients were posted.
SUBMIT_BUDGET_SECONDS = 110.0
BASELINE_REQUESTS = 200
PASSWORD_BYTES = 18


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (fraction 0 to 1)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


class Api:
    """A requests.Session bound to the gateway's /api prefix and one bearer token."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.session = requests.Session()

    def login(self, email: str, password: str) -> str:
        response = self.session.post(
            f"{self.api_url}/auth/login",
            json={"email": email, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def create_user(self, role: str) -> tuple[str, str]:
        """Create an account with ``role`` and return its email and password."""
        email = f"bench-{role.lower()}-{secrets.token_hex(3)}@triage.example.com"
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        response = self.session.post(
            f"{self.api_url}/users",
            json={"email": email, "name": f"Bench {role}", "role": role,
                  "password": password},
            timeout=30,
        )  # fmt: skip
        if response.status_code != 201:
            raise SystemExit(f"POST /users {role}: {response.status_code}")
        return email, password


class Dashboards:
    """Websocket clients on one asyncio thread, counting `patient.created` arrivals."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.condition = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self._sockets: list[ClientConnection] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def open(self) -> None:
        """Connect and subscribe every dashboard, raising if any of them fails."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open_all(), self.loop).result(120)

    async def _open_all(self) -> None:
        # Ten at a time, so the gateway's $connect handlers do not queue for long.
        for start in range(0, self.count, 10):
            batch = range(start, min(start + 10, self.count))
            await asyncio.gather(*(self._open_one() for _ in batch))

    async def _open_one(self) -> None:
        socket = await connect(self.url, max_queue=None, open_timeout=30)
        await socket.send(json.dumps({"action": "subscribe", "channel": "board"}))
        reply = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if reply.get("type") != "subscribed":
            raise RuntimeError(f"subscribe failed: {reply}")
        self._sockets.append(socket)
        self.loop.create_task(self._listen(socket))

    async def _listen(self, socket: ClientConnection) -> None:
        async for raw in socket:
            received = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") != "patient.created":
                continue
            patient_id = message["patient"]["id"]
            with self.condition:
                self.arrivals[patient_id].append(received)
                if len(self.arrivals[patient_id]) == self.count:
                    self.condition.notify_all()

    def wait_all(self, patient_id: str, timeout: float) -> tuple[float, float] | None:
        """Return when the first and the last dashboard got ``patient_id``, or None."""
        with self.condition:
            done = self.condition.wait_for(
                lambda: len(self.arrivals[patient_id]) >= self.count, timeout
            )
            times = self.arrivals[patient_id]
            return (min(times), max(times)) if done else None

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(s.close() for s in self._sockets))

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


def measure_baseline(api: Api) -> list[float]:
    """Milliseconds per GET /api/openapi.json, after a few warm-up calls."""
    url = f"{api.api_url}/openapi.json"
    for _ in range(10):
        api.session.get(url, timeout=30).raise_for_status()
    timings = []
    for _ in range(BASELINE_REQUESTS):
        started = time.perf_counter()
        api.session.get(url, timeout=30).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass
class Timings:
    """Milliseconds from sending each POST /patients."""

    http_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    missed: int = 0


def submit_patients(
    api: Api, dashboards: Dashboards, rows: list[dict[str, Any]]
) -> Timings:
    """Post rows one at a time, each after the previous one reached every dashboard.

    A patient whose event has not reached every dashboard after EVENT_WAIT_SECONDS
    counts as missed.
    """
    timings = Timings()
    deadline = time.monotonic() + SUBMIT_BUDGET_SECONDS
    for vitals in rows:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        response = api.session.post(f"{api.api_url}/patients", json=vitals, timeout=30)
        answered = time.perf_counter()
        if response.status_code != 201:
            raise SystemExit(f"POST /patients: {response.status_code}")
        timings.http_ms.append((answered - started) * 1000)
        arrivals = dashboards.wait_all(response.json()["id"], EVENT_WAIT_SECONDS)
        if arrivals is None:
            timings.missed += 1
        else:
            timings.first_ms.append((arrivals[0] - started) * 1000)
            timings.event_ms.append((arrivals[1] - started) * 1000)
    return timings


def start_stack(var_dir: Path) -> tuple[EmbeddedStack, StackInfo]:
    config = StackConfig(
        var_dir=var_dir,
        gateway_port=services.find_free_port(),
        mongo_port=services.find_free_port(),
        moto_port=services.find_free_port(),
        rie_port=services.find_free_port(),
        admin_password=secrets.token_urlsafe(PASSWORD_BYTES),
        gateway_in_process=False,
        start_timeout_seconds=90.0,
    )
    stack = EmbeddedStack(config)
    return stack, stack.start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=250, help="patients posted")
    parser.add_argument(
        "--dashboards", type=int, default=100, help="websocket dashboards"
    )
    arguments = parser.parse_args()

    rows = [row.vitals for _, row in zip(range(arguments.patients), read_rows(),
                                         strict=False)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as temp:
        stack, info = start_stack(Path(temp))
        dashboards: Dashboards | None = None
        try:
            print(f"stack started in {info.startup_seconds:.1f} s", flush=True)
            admin = Api(info.api_url)
            admin.login(info.admin_email, info.admin_password)
            paramedic_login = admin.create_user("PARAMEDIC")
            doctor_login = admin.create_user("DOCTOR")
            paramedic = Api(info.api_url)
            paramedic.login(*paramedic_login)
            doctor_token = Api(info.api_url).login(*doctor_login)

            baseline = measure_baseline(paramedic)
            dashboards = Dashboards(
                f"{info.websocket_url}?token={doctor_token}", arguments.dashboards
            )
            opened = time.perf_counter()
            dashboards.open()
            print(
                f"{arguments.dashboards} dashboards subscribed in "
                f"{time.perf_counter() - opened:.1f} s",
                flush=True,
            )
            # One patient first, not counted: the first notify call creates its
            # boto3 client and MongoDB connection.
            submit_patients(paramedic, dashboards, rows[:1])
            timings = submit_patients(paramedic, dashboards, rows[1:])
        finally:
            if dashboards is not None:
                dashboards.close()
            info.close()
            stack.stop()

    report(baseline, timings, arguments.dashboards)


def report(baseline: list[float], timings: Timings, dashboards: int) -> None:
    """Print the latencies, then the ratios (the target ratio last)."""
    if not timings.event_ms:
        raise SystemExit(f"no patient reached all dashboards ({timings.missed} missed)")
    lines = [
        ("baseline GET /api/openapi.json", baseline, f"{len(baseline)} requests"),
        ("submit -> 201", timings.http_ms, f"{len(timings.http_ms)} patients"),
        ("submit -> first dashboard", timings.first_ms, ""),
        (
            f"submit -> all {dashboards} dashboards",
            timings.event_ms,
            f"{timings.missed} missed after {EVENT_WAIT_SECONDS:.0f} s",
        ),
    ]
    for name, values, note in lines:
        print(
            f"{name:34} p50 {percentile(values, 0.5):7.1f} ms  "
            f"p99 {percentile(values, 0.99):7.1f} ms  {note}"
        )
    spread = [
        last - first
        for first, last in zip(timings.first_ms, timings.event_ms, strict=True)
    ]
    print(
        f"{'fan-out, first to last dashboard':34} p50 {percentile(spread, 0.5):7.1f} "
        f"ms  p99 {percentile(spread, 0.99):7.1f} ms"
    )
    floor = statistics.median(baseline)
    event_p99 = percentile(timings.event_ms, 0.99)
    print(
        f"ratio submit p50 / baseline p50 = "
        f"{percentile(timings.http_ms, 0.5) / floor:.1f}"
    )
    print(
        f"ratio event p99 / target = {event_p99 / TARGET_EVENT_P99_MS:.2f} "
        f"(event p99 {event_p99:.0f} ms, target <= {TARGET_EVENT_P99_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
