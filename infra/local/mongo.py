"""Run nx-27017, the MongoDB wire-protocol server over SQLite, as a child process."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo

from infra.local import services
from infra.local.services import ChildProcess

logger = logging.getLogger(__name__)


def start_nx_27017(
    data_dir: Path, port: int, log_dir: Path, pid_file: Path
) -> ChildProcess:
    """Start nx-27017 on 127.0.0.1:``port`` with one SQLite file per database.

    ``--data-dir`` matters: the single-file default puts every database in one
    SQLite file, so two databases with the same collection names would mix.
    The server writes its log to ``log_dir/mongo.log`` and copies it to stderr.
    Tracebacks (a taken port, for one) go only to stderr, so the returned
    child's log is ``log_dir/mongo-stderr.log``.
    """
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_pid_file(pid_file)
    argv = [
        str(Path(sys.executable).with_name("nx-27017")),
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-file",
        str(log_dir / "mongo.log"),
        "--pid-file",
        str(pid_file),
    ]
    return services.start_process(
        "mongo",
        argv,
        log_dir / "mongo-stderr.log",
        cwd=data_dir,
        stdout_to_log=False,
    )


def _remove_stale_pid_file(pid_file: Path) -> None:
    """Delete ``pid_file`` unless its PID is a running nx-27017.

    nx-27017 removes the file on a clean stop but not after SIGKILL. At start it
    exits with "already running" while the PID in the file belongs to any live
    process, which after PID reuse may be an unrelated one.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        command_line = b""
    if b"nx-27017" not in command_line:
        logger.info("removing stale nx-27017 pid file %s (pid %d)", pid_file, pid)
        pid_file.unlink(missing_ok=True)


def ping_probe(uri: str) -> Callable[[], bool]:
    """Return a probe that is true once the server at ``uri`` responds to ping."""

    def probe() -> bool:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()

    return probe
