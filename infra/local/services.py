"""Start, probe and stop the child processes of the embedded stack."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """A component failed to start; the message names it and its log file."""


@dataclass
class ChildProcess:
    """A started child process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


def find_free_port() -> int:
    """Return a loopback TCP port that was free at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def check_port_free(component: str, port: int, setting: str) -> None:
    """Raise StartupError naming ``component`` and ``setting`` if ``port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR, as servers set it, so sockets in TIME_WAIT from an
        # earlier run do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise StartupError(
                f"{component}: port {LOOPBACK}:{port} is already in use"
                f" ({exc.strerror}). Stop whatever listens there or set {setting}"
                " to another port."
            ) from exc


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when the parent thread exits."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout_to_log: bool = True,
) -> ChildProcess:
    """Start ``argv`` in its own session, appending its output to ``log_path``.

    The child gets its own session so a Ctrl-C in the terminal reaches only the
    runner, which then stops the children in order. On Linux the child also
    receives SIGTERM when the runner dies without cleaning up.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log if stdout_to_log else subprocess.DEVNULL,
            stderr=log,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    logger.info("started %s (pid %d), log %s", name, popen.pid, log_path)
    return ChildProcess(name, popen, log_path)


def stop_process(child: ChildProcess, timeout: float = 5.0) -> None:
    """Send SIGTERM to the child's PID, then SIGKILL if it outlives ``timeout``."""
    if child.popen.poll() is not None:
        return
    child.popen.send_signal(signal.SIGTERM)
    try:
        child.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) ignored SIGTERM; killing it", child.name, child.pid)
        child.popen.kill()
        child.popen.wait(timeout)
    logger.info("stopped %s (pid %d)", child.name, child.pid)


def tcp_probe(port: int, host: str = LOOPBACK) -> Callable[[], bool]:
    """Return a probe that is true once ``host:port`` accepts a TCP connection."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


def http_probe(url: str, expected_status: int = 200) -> Callable[[], bool]:
    """Return a probe that is true once GET ``url`` returns ``expected_status``."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:  # noqa: S310
                return response.status == expected_status
        except urllib.error.HTTPError as exc:
            return exc.code == expected_status
        except (OSError, ValueError):
            return False

    return probe


def log_tail(path: Path, lines: int = 15) -> str:
    """Return the last ``lines`` lines of a log file, or an empty string."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until_healthy(
    name: str,
    probe: Callable[[], bool],
    timeout: float,
    child: ChildProcess | None = None,
    log_path: Path | None = None,
) -> float:
    """Poll ``probe`` until it is true and return the seconds it took.

    Raises StartupError when ``child`` exits first or ``timeout`` seconds pass;
    the message names the component and the last lines of its log.
    """
    started = time.monotonic()
    log_path = log_path or (child.log_path if child else None)
    delay = 0.05
    while True:
        if probe():
            return time.monotonic() - started
        if child is not None and child.popen.poll() is not None:
            raise StartupError(
                f"{name} exited with code {child.popen.returncode} during start-up;"
                f" see {log_path}\n{log_tail(log_path) if log_path else ''}"
            )
        if time.monotonic() - started > timeout:
            raise StartupError(
                f"{name} was not healthy after {timeout:.0f} s; see {log_path}\n"
                f"{log_tail(log_path) if log_path else ''}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def environ_with(extra: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of this process's environment with ``extra`` applied."""
    env = dict(os.environ)
    env.update(extra)
    return env
