"""Clinician accounts: creation, lookup, login with lockout, first-admin bootstrap."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from triage_core.auth import hash_password, needs_rehash, verify_password
from triage_core.errors import Conflict, Forbidden, NotFound, Unauthorized
from triage_core.schemas import Role, UserCreate, UserUpdate
from triage_core.settings import get_settings
from triage_core.storage import WriteConflict, modify

logger = logging.getLogger(__name__)

# One message for an unknown email, a wrong password, a locked or an inactive account,
# so the response never reveals whether an email is registered.
LOGIN_FAILED = "invalid email or password"


def new_user_id() -> str:
    return "usr_" + uuid.uuid4().hex


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the user fields a client may see (never the hash or lockout counters)."""
    return {
        "id": doc["_id"],
        "email": doc["email"],
        "name": doc["name"],
        "role": doc["role"],
        "active": doc["active"],
        "locked": is_locked(doc),
        "created_at": doc["created_at"],
    }


def is_locked(doc: dict[str, Any]) -> bool:
    """Tell whether failed logins locked the account until a time still ahead."""
    locked_until = doc.get("locked_until")
    return isinstance(locked_until, datetime) and locked_until > datetime.now(UTC)


def create_user(db: Database, request: UserCreate, created_by: str | None) -> dict:
    now = datetime.now(UTC)
    doc = {
        "_id": new_user_id(),
        "email": request.email.lower(),
        "name": request.name,
        "role": request.role.value,
        "active": True,
        "password_hash": hash_password(request.password),
        "failed_logins": 0,
        "locked_until": None,
        "token_version": 0,
        "created_at": now,
        "created_by": created_by,
    }
    try:
        db.users.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("a user with this email already exists", field="email") from None
    logger.info("user created id=%s role=%s", doc["_id"], doc["role"])
    return doc


def get_user(db: Database, user_id: str) -> dict:
    doc = db.users.find_one({"_id": user_id})
    if doc is None:
        raise NotFound(f"user {user_id} not found", field="id")
    return doc


def list_users(db: Database) -> list[dict]:
    return list(db.users.find({}, sort=[("created_at", 1)]))


def update_user(
    db: Database, user_id: str, request: UserUpdate, acting_user: dict
) -> dict:
    """Apply an admin's change; admins cannot demote or deactivate their own account."""
    target = get_user(db, user_id)
    changes = request.model_dump(exclude_none=True)
    if target["_id"] == acting_user["_id"] and (
        changes.get("active") is False
        or ("role" in changes and changes["role"] != target["role"])
    ):
        raise Forbidden("admins cannot change their own role or deactivate themselves")
    if "role" in changes:
        changes["role"] = Role(changes["role"]).value
    role_changed = changes.get("role", target["role"]) != target["role"]
    password = changes.pop("password", None)
    if password is not None:
        changes["password_hash"] = hash_password(password)
        changes["failed_logins"] = 0
        changes["locked_until"] = None
    if changes.get("active") is False or role_changed or password is not None:
        # Tokens carry the account's token_version, so raising it ends every access
        # and refresh token issued before this change.
        changes["token_version"] = int(target.get("token_version", 0)) + 1
    if changes:
        changes["updated_at"] = datetime.now(UTC)
        _set_fields(db, user_id, changes)
    if "token_version" in changes:
        # A websocket keeps the role it had at $connect, and the notify function
        # sends to stored connections, so drop them; the client must reconnect.
        dropped = db.connections.delete_many({"user_id": user_id}).deleted_count
        logger.info("account changed; dropped %d connections id=%s", dropped, user_id)
    return get_user(db, user_id)


def _set_fields(db: Database, user_id: str, fields: dict[str, Any]) -> None:
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        doc.update(fields)
        return doc

    try:
        modify(db.users, user_id, apply)
    except WriteConflict:
        raise Conflict("the account is being changed by others; retry") from None


def _find_by_email(db: Database, email: str) -> dict | None:
    return db.users.find_one({"email": email.lower()})


class LoginFailed(Unauthorized):
    """A rejected login; ``user_id`` and ``reason`` are for the audit trail only."""

    def __init__(self, user_id: str | None, reason: str) -> None:
        super().__init__(LOGIN_FAILED)
        self.user_id = user_id
        self.reason = reason


def authenticate(db: Database, email: str, password: str) -> dict:
    """Return the user for a correct email and password or raise ``Unauthorized``.

    After ``MAX_FAILED_LOGINS`` wrong passwords the account is locked for
    ``LOCKOUT_SECONDS``; during the lock even the right password fails with the
    same message.
    """
    settings = get_settings()
    user = _find_by_email(db, email)
    now = datetime.now(UTC)
    password_ok = verify_password(user["password_hash"] if user else None, password)
    if user is None:
        raise LoginFailed(None, "unknown_email")
    if is_locked(user):
        logger.warning("login rejected: account locked id=%s", user["_id"])
        raise LoginFailed(user["_id"], "locked")
    if not password_ok:
        failures = int(user.get("failed_logins", 0)) + 1
        update: dict[str, Any] = {"failed_logins": failures}
        if failures >= settings.max_failed_logins:
            update["locked_until"] = now + timedelta(seconds=settings.lockout_seconds)
            update["failed_logins"] = 0
            logger.warning("account locked after failed logins id=%s", user["_id"])
        _set_fields(db, user["_id"], update)
        raise LoginFailed(user["_id"], "wrong_password")
    if not user.get("active", False):
        logger.warning("login rejected: account inactive id=%s", user["_id"])
        raise LoginFailed(user["_id"], "inactive")
    update = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if needs_rehash(user["password_hash"]):
        update["password_hash"] = hash_password(password)
    _set_fields(db, user["_id"], update)
    return user


def active_user(db: Database, user_id: str) -> dict:
    """Return the user behind a token, or raise ``Unauthorized`` if gone or inactive."""
    user = db.users.find_one({"_id": user_id})
    if user is None or not user.get("active", False):
        raise Unauthorized("account is inactive or no longer exists")
    return user


def user_for_claims(db: Database, claims: dict[str, Any]) -> dict:
    """Return the active user behind verified token claims, or raise ``Unauthorized``.

    A token is stale once the account's role or token_version moved on (role change,
    deactivation, password reset), even if its signature and expiry are fine.
    """
    user = active_user(db, str(claims["sub"]))
    if claims.get("role") != user["role"]:
        raise Unauthorized("token role no longer matches the account; log in again")
    if int(claims.get("tv", 0)) != int(user.get("token_version", 0)):
        raise Unauthorized("token was revoked by an account change; log in again")
    return user


def bootstrap_admin(db: Database) -> str | None:
    """Create the first admin from settings when no admin exists; return its id."""
    settings = get_settings()
    if not settings.bootstrap_admin_email or not settings.bootstrap_admin_password:
        return None
    if db.users.find_one({"role": Role.ADMIN.value}) is not None:
        return None
    request = UserCreate(
        email=settings.bootstrap_admin_email,
        name="Administrator",
        role=Role.ADMIN,
        password=settings.bootstrap_admin_password,
    )
    try:
        doc = create_user(db, request, created_by=None)
    except Conflict:
        return None
    logger.info("bootstrap admin created id=%s", doc["_id"])
    return doc["_id"]
