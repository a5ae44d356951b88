"""MongoDB access: one client per process, reused across Lambda invocations.

Indexes are created idempotently on first use. The code sticks to features that the
embedded wire-protocol server (nx-27017) also has: no ``$lookup``, collation, validators
or Decimal128, and unique indexes over optional fields are partial so that repeated
nulls are not treated as duplicates.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

from triage_core.errors import ServiceUnavailable
from triage_core.settings import get_settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_client: MongoClient | None = None
_indexed: set[str] = set()

# Two hours: API Gateway closes a websocket connection after at most this long.
CONNECTION_TTL_SECONDS = 7200


def _mongodb_uri() -> str:
    settings = get_settings()
    if settings.mongodb_uri_secret_arn:
        # Imported here so local runs without the secret never touch Secrets Manager.
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_secret(settings.mongodb_uri_secret_arn, max_age=300))
    return settings.mongodb_uri


def get_client() -> MongoClient:
    """Return the process-wide client, creating it on first call."""
    global _client
    with _lock:
        if _client is None:
            _client = MongoClient(
                _mongodb_uri(),
                serverSelectionTimeoutMS=3000,
                connectTimeoutMS=3000,
                socketTimeoutMS=10000,
                tz_aware=True,
                appname="triage-platform",
            )
        return _client


def reset_client() -> None:
    """Close the client so the next call reconnects with fresh settings (tests)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
        _indexed.clear()


INDEXES: dict[str, list[IndexModel]] = {
    "patients": [
        IndexModel([("risk_sort", DESCENDING), ("created_at", DESCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("submitted_by", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("prediction.state", ASCENDING)]),
        IndexModel([("prediction.risk_level", ASCENDING)]),
        IndexModel([("created_at", DESCENDING)]),
    ],
    "users": [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
    ],
    "audit": [
        IndexModel([("patient_id", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("user_id", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("at", DESCENDING)]),
    ],
    "idempotency": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
    ],
    "connections": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        IndexModel([("user_id", ASCENDING)]),
    ],
}


def ensure_indexes(db: Database) -> None:
    """Create every index once per process; MongoDB ignores an identical index."""
    for collection, models in INDEXES.items():
        key = f"{db.name}.{collection}"
        if key in _indexed:
            continue
        db[collection].create_indexes(models)
        _indexed.add(key)


def get_database() -> Database:
    """Return the configured database with its indexes in place."""
    db = get_client()[get_settings().mongodb_db]
    try:
        ensure_indexes(db)
    except PyMongoError as exc:
        logger.error("index creation failed: %s", type(exc).__name__)
        raise ServiceUnavailable("database is unavailable; retry shortly") from exc
    return db


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn MongoDB connection failures into a 503 the client can retry."""
    try:
        yield
    except ConnectionFailure as exc:
        logger.error("database unavailable: %s", type(exc).__name__)
        raise ServiceUnavailable("database is unavailable; retry shortly") from exc


def ping() -> bool:
    """Return True when the server responds to a ping within the selection timeout."""
    try:
        get_client().admin.command("ping")
    except PyMongoError:
        return False
    return True


class WriteConflict(RuntimeError):
    """Other writers kept changing the document; the caller should reload and retry."""


VERSION_FIELD = "version"
MAX_WRITE_ATTEMPTS = 5


def modify(
    collection: Collection,
    document_id: str,
    mutate: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """Read, change and write back one document under optimistic concurrency.

    ``mutate`` gets a copy of the stored document and returns the new one, or None
    to leave it unchanged. It may raise to reject the change. The write replaces the
    whole document and applies only if ``version`` is still the one read. A
    concurrent writer therefore causes a reread and a new call of ``mutate``.
    Returns the stored document afterwards, or None when the id does not exist.
    Raises ``WriteConflict`` after ``MAX_WRITE_ATTEMPTS`` lost races.

    NOTE: updates are whole-document replacements, not $set or $push, because
    nx-27017 0.8.1 turns a $set boolean into an integer and a $set datetime into a
    string, and stores a $push-ed subdocument as a JSON string.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = collection.find_one({"_id": document_id})
        if current is None:
            return None
        changed = mutate(copy.deepcopy(current))
        if changed is None:
            return current
        version = current.get(VERSION_FIELD)
        changed[VERSION_FIELD] = int(version or 0) + 1
        changed["_id"] = document_id
        guard = {"$exists": False} if version is None else version
        result = collection.replace_one(
            {"_id": document_id, VERSION_FIELD: guard}, changed
        )
        if result.matched_count == 1:
            return changed
    raise WriteConflict(f"document {document_id} kept changing; reload and retry")
