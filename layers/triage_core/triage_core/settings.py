"""Read every environment variable the platform uses, once, with its default.

docs/architecture.md lists the same variables; keep the two in step. boto3's own
endpoint variables (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``) are read by
boto3 itself and are the only thing that differs between cloud, compose and embedded
modes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message names the variable and the fix."""


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number; set it to seconds, e.g. {default}"
        ) from exc


def _int(name: str, default: int) -> int:
    return int(_float(name, default))


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of every function that imports the layer."""

    mongodb_uri: str
    mongodb_uri_secret_arn: str
    mongodb_db: str
    predict_function_name: str
    predict_timeout_seconds: float
    events_queue_url: str
    rescore_queue_url: str
    websocket_management_url: str
    jwt_secret: str
    jwt_secret_arn: str
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    bootstrap_admin_email: str
    bootstrap_admin_password: str
    max_failed_logins: int
    lockout_seconds: int
    idempotency_ttl_seconds: int


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings read from the environment at first call."""
    env = os.environ.get
    return Settings(
        mongodb_uri=env("MONGODB_URI", "mongodb://127.0.0.1:27017"),
        mongodb_uri_secret_arn=env("MONGODB_URI_SECRET_ARN", ""),
        mongodb_db=env("MONGODB_DB", "triage"),
        predict_function_name=env("PREDICT_FUNCTION_NAME", "function"),
        predict_timeout_seconds=_float("PREDICT_TIMEOUT_SECONDS", 2.0),
        events_queue_url=env("EVENTS_QUEUE_URL", ""),
        rescore_queue_url=env("RESCORE_QUEUE_URL", ""),
        websocket_management_url=env("WEBSOCKET_MANAGEMENT_URL", ""),
        jwt_secret=env("JWT_SECRET", ""),
        jwt_secret_arn=env("JWT_SECRET_ARN", ""),
        jwt_issuer=env("JWT_ISSUER", "triage-platform"),
        jwt_audience=env("JWT_AUDIENCE", "triage-clinicians"),
        access_token_ttl_seconds=_int("ACCESS_TOKEN_TTL_SECONDS", 900),
        refresh_token_ttl_seconds=_int("REFRESH_TOKEN_TTL_SECONDS", 43200),
        bootstrap_admin_email=env("BOOTSTRAP_ADMIN_EMAIL", ""),
        bootstrap_admin_password=env("BOOTSTRAP_ADMIN_PASSWORD", ""),
        max_failed_logins=_int("MAX_FAILED_LOGINS", 5),
        lockout_seconds=_int("LOCKOUT_SECONDS", 900),
        idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", 86400),
    )


def reset_settings() -> None:
    """Forget the cached settings so the next call rereads the environment (tests)."""
    get_settings.cache_clear()
