"""Store websocket connections and their subscriptions in the `connections` collection.

One document per open websocket, keyed by the API Gateway connection id::

    {_id: <connection id>, connection_id, user_id, role,
     subscriptions: [{channel: "board"} | {channel: "patient", patient_id}],
     connected_at, expires_at}

``expires_at`` is ``connected_at`` plus two hours, the maximum connection duration of
API Gateway websocket APIs, and a TTL index deletes the document after that time in
case ``$disconnect`` never ran. Fan-out queries also skip expired documents, because
MongoDB's TTL monitor runs only once a minute.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pymongo import ASCENDING
from pymongo.database import Database

from triage_core.auth import decode_access_token
from triage_core.errors import Unauthorized
from triage_core.storage import CONNECTION_TTL_SECONDS
from triage_core.users import user_for_claims

logger = logging.getLogger(__name__)

CONNECTIONS_COLLECTION = "connections"
MAX_CONNECTION_AGE = timedelta(seconds=CONNECTION_TTL_SECONDS)
# Roles that see every patient; the same rule as ``access.can_see_patient``.
CLINICIAN_ROLES = ("DOCTOR", "ADMIN")
Role = Literal["PARAMEDIC", "DOCTOR", "ADMIN"]

# The pattern of patient ids in the `patients` collection ("pat_" + 32 hex digits).
PATIENT_ID_PATTERN = r"^pat_[0-9a-f]{32}$"


class BoardSubscription(BaseModel):
    """Client request for every patient event the user may see."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["subscribe"]
    channel: Literal["board"]


class PatientSubscription(BaseModel):
    """Client request for the events of one patient."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["subscribe"]
    channel: Literal["patient"]
    patient_id: Annotated[str, Field(pattern=PATIENT_ID_PATTERN)]


ClientMessage = Annotated[
    BoardSubscription | PatientSubscription, Field(discriminator="channel")
]
_client_message_adapter: TypeAdapter[BoardSubscription | PatientSubscription] = (
    TypeAdapter(ClientMessage)
)


class InvalidClientMessage(ValueError):
    """A websocket message that is not valid JSON or not a known request."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_reply(self) -> dict[str, Any]:
        """Return the error message sent back to the client."""
        return {
            "type": "error",
            "error": {
                "code": "validation_error",
                "message": self.message,
                "field": self.field,
            },
        }


class ConnectionRecord(BaseModel):
    """One open websocket connection as stored in MongoDB."""

    connection_id: str
    user_id: str
    role: Role
    subscriptions: list[dict[str, str]] = Field(default_factory=list)
    connected_at: datetime
    expires_at: datetime


def parse_client_message(body: str | None) -> BoardSubscription | PatientSubscription:
    """Validate one client message.

    Raises InvalidClientMessage naming the first invalid field, so the caller can send
    the reason back to the client.
    """
    if not body:
        raise InvalidClientMessage("message body is empty; send a JSON object")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidClientMessage(f"message is not valid JSON: {exc.msg}") from exc
    except RecursionError:
        # A few kilobytes of "[[[[..." exhaust the decoder's recursion limit.
        raise InvalidClientMessage("message nests too deeply") from None
    try:
        return _client_message_adapter.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        # The discriminated union prefixes each location with the channel name
        # ("patient", "patient_id"), and reports a bad channel with no location.
        location = [str(part) for part in first["loc"]]
        if location and location[0] in ("board", "patient"):
            location = location[1:]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location = ["channel"]
        field = ".".join(location) or None
        raise InvalidClientMessage(
            f"invalid subscribe request: {first['msg']}", field=field
        ) from exc


_indexed_databases: set[tuple[int, str]] = set()
_index_lock = threading.Lock()


def ensure_connection_indexes(db: Database) -> None:
    """Create the TTL and lookup indexes once per process and database.

    The key patterns, options and default names match ``storage.INDEXES``, so
    whichever module runs first creates them and the other's call is a no-op on the
    server (MongoDB rejects the same key pattern under a different name).
    """
    key = (id(db.client), db.name)
    if key in _indexed_databases:
        return
    with _index_lock:
        if key in _indexed_databases:
            return
        collection = db[CONNECTIONS_COLLECTION]
        collection.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
        collection.create_index([("user_id", ASCENDING)])
        # NOTE: no index on subscriptions.channel. nx-27017 0.8.1 returns no
        # documents for a plain equality filter on an indexed array path, and a
        # full scan of the open connections is cheap.
        _indexed_databases.add(key)


def store_connection(
    db: Database,
    connection_id: str,
    user_id: str,
    role: Role,
    now: datetime | None = None,
) -> ConnectionRecord:
    """Insert or replace the document of a newly opened connection."""
    ensure_connection_indexes(db)
    connected_at = now or datetime.now(UTC)
    record = ConnectionRecord(
        connection_id=connection_id,
        user_id=user_id,
        role=role,
        subscriptions=[],
        connected_at=connected_at,
        expires_at=connected_at + MAX_CONNECTION_AGE,
    )
    db[CONNECTIONS_COLLECTION].replace_one(
        {"_id": connection_id},
        {"_id": connection_id, **record.model_dump()},
        upsert=True,
    )
    return record


def remove_connection(db: Database, connection_id: str) -> bool:
    """Delete a connection; return False when it was already gone."""
    result = db[CONNECTIONS_COLLECTION].delete_one({"_id": connection_id})
    return result.deleted_count == 1


def get_connection(db: Database, connection_id: str) -> ConnectionRecord | None:
    """Return the stored connection, or None when it is unknown or expired."""
    document = db[CONNECTIONS_COLLECTION].find_one({"_id": connection_id})
    if document is None or _is_expired(document, datetime.now(UTC)):
        return None
    return _to_record(document)


def add_subscription(
    db: Database,
    connection_id: str,
    request: BoardSubscription | PatientSubscription,
) -> bool:
    """Add a subscription to a connection; return False when the connection is unknown.

    Subscribing twice to the same channel stores it once.
    """
    subscription: dict[str, str] = {"channel": request.channel}
    if isinstance(request, PatientSubscription):
        subscription["patient_id"] = request.patient_id
    result = db[CONNECTIONS_COLLECTION].update_one(
        {"_id": connection_id}, {"$addToSet": {"subscriptions": subscription}}
    )
    return result.matched_count == 1


def find_recipients(
    db: Database,
    patient_id: str,
    submitted_by: str | None,
    now: datetime | None = None,
) -> list[ConnectionRecord]:
    """Return the live connections that may receive an event about one patient.

    A connection receives it when its user may see the patient (doctors and admins
    see every patient, paramedics only those they submitted) and it subscribed to
    the board or to this patient.
    """
    now = now or datetime.now(UTC)
    allowed_users: list[dict[str, Any]] = [{"role": {"$in": list(CLINICIAN_ROLES)}}]
    if submitted_by:
        allowed_users.append({"user_id": submitted_by})
    query = {
        "$and": [
            {"$or": allowed_users},
            {
                "$or": [
                    {"subscriptions.channel": "board"},
                    {
                        "subscriptions": {
                            "$elemMatch": {
                                "channel": "patient",
                                "patient_id": patient_id,
                            }
                        }
                    },
                ]
            },
        ]
    }
    documents = db[CONNECTIONS_COLLECTION].find(query)
    # The expiry check runs here, not in the query, because stored datetimes come
    # back naive or aware depending on the client's tz_aware option.
    return [_to_record(doc) for doc in documents if not _is_expired(doc, now)]


def _is_expired(document: dict[str, Any], now: datetime) -> bool:
    expires_at = document.get("expires_at")
    if not isinstance(expires_at, datetime):
        return False
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= now


def _to_record(document: dict[str, Any]) -> ConnectionRecord:
    fields = {key: value for key, value in document.items() if key != "_id"}
    fields.setdefault("connection_id", document["_id"])
    return ConnectionRecord.model_validate(fields)


def open_connection(
    db: Database, connection_id: str, token: str | None
) -> ConnectionRecord:
    """Authenticate the ``token`` query parameter of ``$connect`` and store the socket.

    The role comes from the user document, not the token, as for REST requests.
    Raises ``Unauthorized`` for a missing, expired or invalid token and for an
    inactive or deleted account.
    """
    if not token:
        raise Unauthorized("missing token query parameter; connect to /ws?token=...")
    claims = decode_access_token(token)
    user = user_for_claims(db, claims)
    record = store_connection(db, connection_id, user["_id"], user["role"])
    logger.info(
        "websocket connection stored connection_id=%s user_id=%s role=%s",
        connection_id,
        record.user_id,
        record.role,
    )
    return record


def handle_client_message(
    db: Database, connection_id: str, body: str | None
) -> dict[str, Any]:
    """Apply one client message and return the reply for the sender.

    Raises InvalidClientMessage for a malformed request and UnknownConnection when
    the connection document is gone (expired, or ``$disconnect`` already ran).
    """
    request = parse_client_message(body)
    if not add_subscription(db, connection_id, request):
        raise UnknownConnection(connection_id)
    reply: dict[str, Any] = {"type": "subscribed", "channel": request.channel}
    if isinstance(request, PatientSubscription):
        reply["patient_id"] = request.patient_id
    return reply


class UnknownConnection(LookupError):
    """The connection has no document in the `connections` collection."""

    def to_reply(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {
                "code": "unknown_connection",
                "message": "connection is not registered; reconnect with a new token",
                "field": None,
            },
        }
