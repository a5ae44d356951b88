"""Per-request access to the database and the authenticated user."""

from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice
from pymongo.database import Database

from triage_core import access, storage, users
from triage_core.auth import bearer_token, decode_access_token
from triage_core.errors import Unauthorized

_bootstrap_lock = threading.Lock()
_bootstrapped = False


def database() -> Database:
    """Return the database, creating the first admin once per process if configured."""
    global _bootstrapped
    db = storage.get_database()
    if not _bootstrapped:
        with _bootstrap_lock:
            if not _bootstrapped:
                users.bootstrap_admin(db)
                _bootstrapped = True
    return db


def current_user(app: Chalice, action: str | None = None) -> dict[str, Any]:
    """Authenticate the bearer token, reload the user and check ``action``'s role rule.

    The role is taken from the stored account, and a token whose role claim no longer
    matches it is rejected, so a role change or deactivation takes effect at once.
    """
    claims = decode_access_token(bearer_token(dict(app.current_request.headers)))
    user = users.active_user(database(), claims["sub"])
    if claims.get("role") != user["role"]:
        raise Unauthorized("token role no longer matches the account; log in again")
    if action is not None:
        access.require(user, action)
    return user
