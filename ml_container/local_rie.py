"""Run the prediction handler under the AWS Lambda Runtime Interface Emulator (RIE).

The RIE binary ships inside the aws-sam-cli wheel (`samcli/local/rapid/`). It serves the
Lambda invoke API at `http://<address>/2015-03-31/functions/function/invocations` and
starts `python -m awslambdaric <handler>` as the function's runtime. Use it from tests
and from the local runner:

    process = start_rie(port)
    ...  # boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}")
    stop_rie(process)

Both of the RIE's listening sockets are bound to 127.0.0.1. The runtime API gets its own
free port, because its default (127.0.0.1:9001) would clash between two emulators.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from infra.local.services import die_with_parent

logger = logging.getLogger(__name__)

HANDLER = "ml_container.predict.handler.handler"
REPO_ROOT = Path(__file__).resolve().parents[1]
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
HEALTH_EVENT: dict[str, Any] = {"action": "health"}


class RieError(RuntimeError):
    """The emulator was not found, failed to start or timed out before responding."""


def rie_binary() -> Path:
    """Return the RIE binary for this machine's architecture from the samcli package."""
    import samcli

    machine = platform.machine().lower()
    suffix = "arm64" if machine in ("aarch64", "arm64") else "x86_64"
    path = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{suffix}"
    if not path.is_file():
        raise RieError(f"RIE binary not found at {path}; install aws-sam-cli")
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def invoke(port: int, event: Any, timeout: float = 10.0) -> Any:
    """POST one event to the emulator and return the decoded JSON response."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{INVOKE_PATH}",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # The URL is always http://127.0.0.1, built above, so no file: or other scheme.
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def wait_until_ready(
    port: int,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 30.0,
    event: Any = HEALTH_EVENT,
) -> Any:
    """Invoke `event` until the function responds; return that first response.

    Raises RieError when the process exits or `timeout` seconds pass first. The first
    invocation includes the function's cold start, so allow for the model load.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RieError(
                f"RIE exited with code {process.returncode} before responding"
            )
        try:
            return invoke(port, event, timeout=max(deadline - time.monotonic(), 0.1))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = error
            time.sleep(0.05)
    raise RieError(
        f"RIE on port {port} timed out: no response within {timeout} s: {last_error}"
    )


def start_rie(
    port: int,
    *,
    handler: str = HANDLER,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    output: IO[bytes] | int | None = subprocess.DEVNULL,
    wait: bool = True,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start the RIE with `python -m awslambdaric <handler>` and return the process.

    `env` is added to this process's environment, and the repository root is put on
    PYTHONPATH so `ml_container` imports. With `wait` the call returns only after the
    function responded to a health event. Otherwise it stops the emulator and raises
    RieError.
    """
    runtime_api_port = free_port()
    environment = {**os.environ, **(env or {})}
    paths = [str(REPO_ROOT), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    command = [
        str(rie_binary()),
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{runtime_api_port}",
        python,
        "-m",
        "awslambdaric",
        handler,
    ]
    # A new session keeps terminal signals (Ctrl-C in the runner) from reaching the
    # emulator directly, so stop_rie decides when it stops.
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
        # The emulator gets SIGTERM when its parent dies, so a SIGKILL-ed runner
        # does not leave it holding its port.
        preexec_fn=die_with_parent,
    )
    logger.info("started RIE pid %d on 127.0.0.1:%d", process.pid, port)
    if wait:
        try:
            wait_until_ready(port, process, timeout)
        except RieError:
            stop_rie(process)
            raise
    return process


def _child_pids(pid: int) -> list[int]:
    """Return the ids of the direct children of `pid`, read from /proc (Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def stop_rie(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop the emulator and its runtime child.

    The emulator (aws-sam-cli 1.170.0) starts the runtime in its own process group and
    stops it on SIGTERM. Only when the emulator must be killed does this function end
    the runtime child itself, by the id it recorded before.
    """
    if process.poll() is None:
        children = _child_pids(process.pid)
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("RIE pid %d ignored SIGTERM; killing it", process.pid)
            process.kill()
            process.wait(timeout)
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
    logger.info("stopped RIE pid %d", process.pid)
