"""Configuration and run-time description of an embedded stack (``stack.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pymongo
from pymongo.database import Database

from infra.local.services import StartupError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-north-1"
DEFAULT_ADMIN_EMAIL = "admin@triage.example.com"
# Environment variables a developer may have set that would send the app's AWS
# calls somewhere other than the local emulators.
AWS_VARIABLES_TO_DROP = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")

Progress = Callable[[str, str], None]


@dataclass
class StackConfig:
    """Data directory, loopback ports and credentials of an embedded stack.

    ``mongodb_uri`` set means an external MongoDB is used and nx-27017 is not
    started. ``gateway_in_process`` False runs the gateway as a child process.
    """

    var_dir: Path
    gateway_port: int = 8000
    mongo_port: int = 27017
    moto_port: int = 5005
    rie_port: int = 9100
    mongodb_uri: str | None = None
    db_name: str = "triage"
    admin_email: str = DEFAULT_ADMIN_EMAIL
    admin_password: str | None = None
    gateway_in_process: bool = True
    start_timeout_seconds: float = 60.0
    gateway_app: str = "app:app"

    @classmethod
    def from_environ(cls, var_dir: Path) -> StackConfig:
        """Read ports and overrides from ``TRIAGE_*_PORT`` and the app settings."""
        env = os.environ
        return cls(
            var_dir=var_dir,
            gateway_port=_port_setting("TRIAGE_GATEWAY_PORT", 8000),
            mongo_port=_port_setting("TRIAGE_MONGO_PORT", 27017),
            moto_port=_port_setting("TRIAGE_MOTO_PORT", 5005),
            rie_port=_port_setting("TRIAGE_RIE_PORT", 9100),
            mongodb_uri=env.get("MONGODB_URI") or None,
            db_name=env.get("MONGODB_DB", "triage"),
            admin_email=env.get("BOOTSTRAP_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL,
            admin_password=env.get("BOOTSTRAP_ADMIN_PASSWORD") or None,
            start_timeout_seconds=_seconds_setting("TRIAGE_START_TIMEOUT", 60.0),
        )


def _port_setting(name: str, default: int) -> int:
    """Read a TCP port from ``name``; raise StartupError naming it if invalid."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise StartupError(f"{name}={raw!r} is not a TCP port; set 1 to 65535")
    return int(raw)


def _seconds_setting(name: str, default: float) -> float:
    """Read positive seconds from ``name``; raise StartupError if invalid."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise StartupError(f"{name}={raw!r} is not a positive number of seconds")
    return value


@dataclass
class StackInfo:
    """Endpoints and credentials of a running stack."""

    base_url: str
    api_url: str
    websocket_url: str
    mongodb_uri: str
    db_name: str
    events_queue_url: str
    dead_letter_queue_url: str
    rescore_queue_url: str
    rescore_dead_letter_queue_url: str
    moto_endpoint: str
    rie_endpoint: str
    admin_email: str
    admin_password: str
    admin_password_file: Path | None
    first_run: bool
    var_dir: Path
    log_dir: Path
    app_env: dict[str, str] = field(repr=False)
    startup_seconds: float = 0.0

    @cached_property
    def mongo_client(self) -> pymongo.MongoClient[dict[str, Any]]:
        """A pymongo client for the stack's server, made on first use."""
        return pymongo.MongoClient(
            self.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
        )

    def db(self) -> Database[dict[str, Any]]:
        """Return the app's database (``db_name``) on ``mongo_client``."""
        return self.mongo_client[self.db_name]

    def close(self) -> None:
        """Close ``mongo_client`` if it was made."""
        client = self.__dict__.pop("mongo_client", None)
        if client is not None:
            client.close()
