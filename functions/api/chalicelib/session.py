"""Per-request access to the database and the authenticated user."""

from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice
from pymongo.database import Database

from triage_core import access, storage, users
from triage_core.auth import bearer_token, decode_access_token

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

    The role is taken from the stored account, and a token whose role or token
    version no longer matches it is rejected, so a role change, deactivation or
    password reset takes effect at once.
    """
    claims = decode_access_token(bearer_token(dict(app.current_request.headers)))
    user = users.user_for_claims(database(), claims)
    if action is not None:
        access.require(user, action)
    return user
