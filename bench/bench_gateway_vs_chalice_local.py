"""API throughput: the local gateway against `chalice local` serving the same app.

One embedded stack (nx-27017, moto, the prediction function under the Runtime
Interface Emulator, the gateway as a child process) runs on free loopback ports.
`chalice local --no-autoreload` serves the same app on another port as a second
child, with the stack's app settings, so both talk to the same MongoDB, queues and
prediction function. The same client, THREADS threads each with its own
requests.Session, sends REQUESTS_PER_THREAD requests to each server for two routes:

- GET /patients?page_size=10 as a doctor (a token check, a page query, an audit write);
- POST /patients as a paramedic (validation, NEWS2, a prediction invoke, an insert,
  an SQS publish).

The gateway serves the API under /api, `chalice local` at the root. The servers take
turns round by round so that a busy machine slows both alike; requests/s is the
median over the rounds. Target: gateway >= 3x `chalice local`.

Each load also runs with one thread, which shows the cost of a request alone. On a
kept-alive connection `chalice local` sends each response about 40 ms late. Its
handler (http.server) writes the headers and the body in two sends, and Nagle's
algorithm delays the second until the client's delayed ACK of the first arrives. So
the one-thread load runs once more against `chalice local` with a new connection per
request.

`chalice local` copies `.chalice/config.json`'s environment_variables over the
process environment, and that file contains empty cloud placeholders (no prediction
function, no queues, no JWT secret ARN). The bench therefore serves a temporary
project folder: links to `app.py` and `chalicelib/` and a config whose variables are
the stack's. functions/api itself is not changed.

Run: `python -m bench.bench_gateway_vs_chalice_local [--requests N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.bench_end_to_end import Api, start_stack
from infra.local import services
from infra.local.cohort import read_rows
from infra.local.services import ChildProcess
from infra.local.stack import AWS_VARIABLES_TO_DROP, REPO_ROOT, StackInfo

THREADS = 8
REQUESTS_PER_THREAD = 20
ROUNDS = 3
TARGET_RATIO = 3.0
SERIAL_REQUESTS = 40
SEED_PATIENTS = 20
ROUTE_GET = "GET /patients?page_size=10"
ROUTE_POST = "POST /patients"
CHALICE_NEW_CONNECTIONS = "chalice local, new connections"
APP_DIR = REPO_ROOT / "functions" / "api"


@dataclass
class RoundResult:
    """One burst of THREADS x n requests against one server and route."""

    seconds: float
    requests: int
    statuses: Counter[int] = field(default_factory=Counter)
    pending_predictions: int = 0
    wrong_bodies: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def chalice_project(folder: Path, app_env: dict[str, str]) -> Path:
    """Make a project folder that serves functions/api with the stack's settings."""
    project = folder / "api"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").symlink_to(APP_DIR / "app.py")
    (project / "chalicelib").symlink_to(APP_DIR / "chalicelib")
    config = json.loads((APP_DIR / ".chalice" / "config.json").read_text())
    config["environment_variables"] = dict(app_env)
    for stage in config.get("stages", {}).values():
        stage.pop("environment_variables", None)
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    return project


def start_chalice_local(project: Path, info: StackInfo, log_dir: Path) -> tuple[
    ChildProcess, str
]:  # fmt: skip
    """Start `chalice local` on a free port and return the child and its base URL."""
    port = services.find_free_port()
    env = services.environ_with(info.app_env)
    for name in AWS_VARIABLES_TO_DROP:
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "layers" / "triage_core"), str(REPO_ROOT)]
    )
    chalice = Path(sys.executable).with_name("chalice")
    argv = [str(chalice), "local", "--no-autoreload", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    child = services.start_process(
        "chalice-local", argv, log_dir / "chalice-local.log", env=env, cwd=project
    )
    base_url = f"http://127.0.0.1:{port}"
    services.wait_until_healthy(
        "chalice local",
        services.http_probe(base_url + "/openapi.json"),
        60,
        child,
        log_dir / "chalice-local.log",
    )
    return child, base_url


Request = Callable[[requests.Session], tuple[requests.Response, dict[str, Any] | None]]


def burst(
    make_request: Request,
    token: str,
    per_thread: int,
    threads: int = THREADS,
    keep_alive: bool = True,
) -> RoundResult:
    """Send threads x per_thread requests, each thread on its own keep-alive session.

    ``make_request`` returns the response and the JSON body it sent, if any. A 201
    whose stored vitals differ from that body counts as a wrong body, because that
    would mean requests were mixed up between threads. A request that gets no
    response counts under status 0.
    """
    statuses: Counter[int] = Counter()
    pending = 0
    wrong = 0
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        nonlocal pending, wrong
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        local: Counter[int] = Counter()
        local_pending = local_wrong = 0
        start.wait()
        for _ in range(per_thread):
            try:
                response, sent = make_request(session)
            except requests.RequestException:
                local[0] += 1  # status 0: no response
                continue
            finally:
                if not keep_alive:
                    session.close()  # the next request opens a new connection
            local[response.status_code] += 1
            if response.status_code == 201 and sent is not None:
                body = response.json()
                local_pending += body["prediction"]["state"] != "scored"
                stored = body["vitals"]
                local_wrong += any(stored.get(k) != v for k, v in sent.items())
        with lock:
            statuses.update(local)
            pending += local_pending
            wrong += local_wrong
        session.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - started
    return RoundResult(seconds, threads * per_thread, statuses, pending, wrong)


def get_page(base: str) -> Request:
    def call(session: requests.Session) -> tuple[requests.Response, None]:
        return session.get(f"{base}/patients?page_size=10", timeout=60), None

    return call


def post_patient(base: str, vitals: Callable[[], dict[str, Any]]) -> Request:
    def call(session: requests.Session) -> tuple[requests.Response, dict[str, Any]]:
        body = vitals()
        return session.post(f"{base}/patients", json=body, timeout=60), body

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_THREAD,
                        help="requests per thread per round")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per route")
    arguments = parser.parse_args()

    rows = [row.vitals for _, row in zip(range(500), read_rows(), strict=False)]
    counter = itertools.count()

    def next_vitals() -> dict[str, Any]:
        return rows[next(counter) % len(rows)]

    results: dict[tuple[str, str, int], list[RoundResult]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gw-") as temp:
        folder = Path(temp)
        stack, info = start_stack(folder / "var")
        chalice_child: ChildProcess | None = None
        try:
            admin = Api(info.api_url)
            admin.login(info.admin_email, info.admin_password)
            paramedic = Api(info.api_url)
            paramedic_token = paramedic.login(*admin.create_user("PARAMEDIC"))
            doctor_token = Api(info.api_url).login(*admin.create_user("DOCTOR"))
            for vitals in rows[:SEED_PATIENTS]:
                paramedic.session.post(
                    f"{info.api_url}/patients", json=vitals, timeout=30
                ).raise_for_status()

            project = chalice_project(folder, info.app_env)
            chalice_child, chalice_url = start_chalice_local(
                project, info, info.log_dir
            )
            servers = {"gateway": info.api_url, "chalice local": chalice_url}
            routes: dict[str, tuple[str, Callable[[str], Request]]] = {
                ROUTE_GET: (doctor_token, get_page),
                ROUTE_POST: (
                    paramedic_token,
                    lambda base: post_patient(base, next_vitals),
                ),
            }
            # (threads, requests per thread): the concurrent load of the target,
            # and one thread in sequence, which shows the cost per request alone.
            loads = [(THREADS, arguments.requests), (1, SERIAL_REQUESTS)]
            for route, (token, build) in routes.items():
                for base in servers.values():
                    burst(build(base), token, 3)  # warm-up, not counted
                for _ in range(arguments.rounds):
                    for threads, per_thread in loads:
                        for server, base in servers.items():
                            outcome = burst(build(base), token, per_thread, threads)
                            key = (route, server, threads)
                            results.setdefault(key, []).append(outcome)
                    # chalice local responds about 40 ms late on a kept-alive
                    # connection (see the module docstring), so one more serial
                    # run opens a new connection per request.
                    outcome = burst(
                        build(chalice_url), token, SERIAL_REQUESTS, 1, False
                    )
                    key = (route, CHALICE_NEW_CONNECTIONS, 1)
                    results.setdefault(key, []).append(outcome)
        finally:
            if chalice_child is not None:
                services.stop_process(chalice_child)
            info.close()
            stack.stop()
    report(results, arguments.requests, arguments.rounds)


def report(
    results: dict[tuple[str, str, int], list[RoundResult]], requests: int, rounds: int
) -> None:
    """Print requests/s per server, route and load, then the ratios (last line)."""

    def rate(route: str, server: str, threads: int) -> float:
        return statistics.median(
            r.per_second for r in results[(route, server, threads)]
        )

    for (route, server, threads), outcomes in results.items():
        statuses: Counter[int] = Counter()
        for outcome in outcomes:
            statuses.update(outcome.statuses)
        extra = ""
        if route == ROUTE_POST:
            pending = sum(o.pending_predictions for o in outcomes)
            wrong = sum(o.wrong_bodies for o in outcomes)
            extra = f", {pending} pending predictions, {wrong} wrong bodies"
        print(
            f"{server:32} {route:27} {threads} thread(s) "
            f"{rate(route, server, threads):7.1f} req/s  "
            f"statuses {dict(sorted(statuses.items()))}{extra}"
        )
    print(
        f"{THREADS} threads x {requests} requests and 1 thread x {SERIAL_REQUESTS} "
        f"requests, {rounds} rounds each, median round"
    )
    serial = ", ".join(
        f"{route} {rate(route, 'gateway', 1) / rate(route, 'chalice local', 1):.2f}"
        for route in (ROUTE_GET, ROUTE_POST)
    )
    print(f"ratio gateway/chalice local, 1 thread: {serial}")
    fresh = ", ".join(
        f"{route} "
        f"{rate(route, 'gateway', 1) / rate(route, CHALICE_NEW_CONNECTIONS, 1):.2f}"
        for route in (ROUTE_GET, ROUTE_POST)
    )
    print(f"ratio gateway/chalice local, 1 thread, new connections: {fresh}")
    concurrent = ", ".join(
        f"{route} "
        f"{rate(route, 'gateway', THREADS) / rate(route, 'chalice local', THREADS):.2f}"
        for route in (ROUTE_GET, ROUTE_POST)
    )
    print(
        f"ratio gateway/chalice local, {THREADS} threads: {concurrent} "
        f"(target >= {TARGET_RATIO:.0f})"
    )


if __name__ == "__main__":
    main()
