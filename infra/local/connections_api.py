"""Serve the API Gateway management API (`@connections`) for the local gateway.

Routes, relative to the gateway root, in the shape boto3's ``apigatewaymanagementapi``
client sends them when its ``endpoint_url`` is ``http://<gateway>/<stage>``:

- ``POST /{stage}/@connections/{id}`` sends the request body to the client (200).
- ``GET /{stage}/@connections/{id}`` returns ``connectedAt``, ``identity`` and
  ``lastActiveAt`` (200).
- ``DELETE /{stage}/@connections/{id}`` closes the websocket (204).

An unknown or closed connection id gets 410 with the error type ``GoneException``,
which botocore raises as ``client.exceptions.GoneException``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# API Gateway's message payload quota for websocket APIs, which also bounds
# @connections POST bodies.
MAX_MESSAGE_BYTES = 128 * 1024
CONNECTIONS_SEGMENT = "@connections"


@dataclass
class LiveConnection:
    """One accepted websocket and the ASGI ``send`` callable that writes to it."""

    connection_id: str
    source_ip: str
    user_agent: str
    connected_at: datetime
    asgi_send: Send
    last_active_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    closed: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def touch(self) -> None:
        """Record traffic in either direction, which resets the idle timeout."""
        self.last_active_at = datetime.now(UTC)

    async def send_data(self, data: bytes) -> None:
        """Send data as a text frame when it is UTF-8, else as a binary frame.

        The lock keeps concurrent @connections POSTs from interleaving ASGI sends.
        """
        async with self._lock:
            if self.closed:
                raise ConnectionError(f"connection {self.connection_id} is closed")
            try:
                message: Message = {"type": "websocket.send", "text": data.decode()}
            except UnicodeDecodeError:
                message = {"type": "websocket.send", "bytes": data}
            await self.asgi_send(message)
            self.touch()

    async def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake once; later calls do nothing."""
        async with self._lock:
            if self.closed:
                return
            self.closed = True
            await self.asgi_send(
                {"type": "websocket.close", "code": code, "reason": reason}
            )


class ConnectionRegistry:
    """Live connections of one gateway process, by connection id.

    Only accepted connections are listed, so a POST during ``$connect`` or after
    ``$disconnect`` started gets 410, as on API Gateway.
    """

    def __init__(self) -> None:
        self._connections: dict[str, LiveConnection] = {}

    def add(self, connection: LiveConnection) -> None:
        self._connections[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)

    def get(self, connection_id: str) -> LiveConnection | None:
        connection = self._connections.get(connection_id)
        if connection is None or connection.closed:
            return None
        return connection

    def __len__(self) -> int:
        return len(self._connections)


class ConnectionsApi:
    """ASGI handler for ``/{stage}/@connections/{connection_id}``.

    NOTE: requests are not checked for a SigV4 signature or IAM permission, so the
    403 ForbiddenException that API Gateway returns to unsigned callers never occurs
    here except for a wrong stage.
    """

    def __init__(self, registry: ConnectionRegistry, stage: str) -> None:
        self._registry = registry
        self._stage = stage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        parsed = self._parse_path(raw_path.decode("latin-1"))
        if parsed is None:
            await _send_error(send, 404, "NotFoundException", "Not Found")
            return
        stage, connection_id = parsed
        if stage != self._stage:
            await _send_error(send, 403, "ForbiddenException", "Forbidden")
            return

        method = scope["method"]
        body = await _read_body(receive, limit=MAX_MESSAGE_BYTES)
        connection = self._registry.get(connection_id)
        if connection is None:
            logger.info("@connections %s %s: connection is gone", method, connection_id)
            await _send_error(send, 410, "GoneException", "Gone")
            return

        if method == "POST":
            await self._post(connection, body, send)
        elif method == "GET":
            await _send_json(send, 200, _describe(connection))
        elif method == "DELETE":
            logger.info("@connections DELETE %s: closing", connection_id)
            await connection.close(1000, "")
            await _send_json(send, 204, None)
        else:
            await _send_error(
                send, 405, "MethodNotAllowedException", f"{method} not allowed"
            )

    async def _post(
        self, connection: LiveConnection, body: bytes | None, send: Send
    ) -> None:
        if body is None:
            await _send_error(
                send,
                413,
                "PayloadTooLargeException",
                f"Message too long; the limit is {MAX_MESSAGE_BYTES} bytes",
            )
            return
        try:
            await connection.send_data(body)
        except (ConnectionError, RuntimeError, OSError) as exc:
            # The client went away between the lookup and the send.
            logger.info(
                "@connections POST %s failed: %s", connection.connection_id, exc
            )
            await _send_error(send, 410, "GoneException", "Gone")
            return
        await _send_json(send, 200, None)

    @staticmethod
    def _parse_path(path: str) -> tuple[str, str] | None:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != CONNECTIONS_SEGMENT or not parts[2]:
            return None
        return parts[0], unquote(parts[2])


def _describe(connection: LiveConnection) -> dict[str, Any]:
    return {
        "connectedAt": _iso8601(connection.connected_at),
        "identity": {
            "sourceIp": connection.source_ip,
            "userAgent": connection.user_agent,
        },
        "lastActiveAt": _iso8601(connection.last_active_at),
    }


def _iso8601(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """Read the whole request body; return None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return None if too_large else b"".join(chunks)


async def _send_json(send: Send, status: int, payload: dict[str, Any] | None) -> None:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if payload is not None:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, error_type: str, message: str) -> None:
    """Send an error that botocore's rest-json parser maps to ``error_type``."""
    body = json.dumps({"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-errortype", error_type.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
