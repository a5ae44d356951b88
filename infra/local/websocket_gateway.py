"""Emulate an API Gateway websocket API in front of a Chalice app's websocket handlers.

The HTTP gateway mounts one ``WebsocketGateway`` and routes websocket scopes on
``/ws`` to ``handle_websocket`` and HTTP requests on ``/{stage}/@connections/{id}``
to ``handle_connections_api``. Each websocket turns into the Lambda proxy events
that API Gateway sends: ``$connect`` before the upgrade, ``$default`` for each
message and ``$disconnect`` after the close. Handlers run in worker threads, so a
handler may call the ``@connections`` API of this same gateway over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from infra.local.connections_api import (
    MAX_MESSAGE_BYTES,
    ConnectionRegistry,
    ConnectionsApi,
    LiveConnection,
    Message,
    Receive,
    Scope,
    Send,
)
from infra.local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)

# API Gateway quotas for websocket APIs (none of them can be raised).
IDLE_TIMEOUT_SECONDS = 10 * 60
MAX_CONNECTION_SECONDS = 2 * 60 * 60
CLOSE_GOING_AWAY = 1001
CLOSE_MESSAGE_TOO_BIG = 1009
LOCAL_API_ID = "localwsapi"


class WebsocketGateway:
    """Serve websocket clients and the ``@connections`` API for one Chalice app.

    ``domain_name`` is the host (and port) clients use, which handlers see as
    ``requestContext.domainName``.
    """

    def __init__(
        self,
        app: Any,
        stage: str,
        domain_name: str,
        *,
        idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS,
        max_connection_seconds: float = MAX_CONNECTION_SECONDS,
    ) -> None:
        self._app = app
        self._stage = stage
        self._domain_name = domain_name
        self._idle_timeout = idle_timeout_seconds
        self._max_age = max_connection_seconds
        self.registry = ConnectionRegistry()
        self._connections_api = ConnectionsApi(self.registry, stage)

    async def handle_connections_api(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve one HTTP request on ``/{stage}/@connections/{connection_id}``."""
        await self._connections_api(scope, receive, send)

    async def handle_websocket(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run one websocket from handshake to close."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        connection_id = _new_id()
        connected_at = datetime.now(UTC)
        source_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        headers = _headers(scope)
        context = _RequestContextFactory(
            api_id=LOCAL_API_ID,
            stage=self._stage,
            domain_name=self._domain_name,
            connection_id=connection_id,
            connected_at=connected_at,
            source_ip=source_ip,
            user_agent=headers.get("user-agent", ""),
        )

        connect_event = _connect_event(scope, headers, context.build("$connect"))
        response = await self._invoke("$connect", connect_event)
        status = int(response.get("statusCode", 200))
        if not 200 <= status < 300:
            logger.info("websocket %s rejected by $connect: %s", connection_id, status)
            await _reject(scope, send, status, response)
            return

        await send({"type": "websocket.accept"})
        connection = LiveConnection(
            connection_id=connection_id,
            source_ip=source_ip,
            user_agent=headers.get("user-agent", ""),
            connected_at=connected_at,
            asgi_send=send,
        )
        self.registry.add(connection)
        logger.info("websocket %s connected", connection_id)
        watchdog = asyncio.create_task(self._close_when_idle(connection))
        in_flight: set[asyncio.Task[None]] = set()
        close_code, close_reason = 1005, ""
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code", 1005))
                    close_reason = str(message.get("reason") or "")
                    break
                if message["type"] != "websocket.receive":
                    continue
                task = await self._on_message(connection, context, message)
                if task is not None:
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        finally:
            watchdog.cancel()
            self.registry.remove(connection_id)
            connection.closed = True
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            event = _disconnect_event(
                headers, context.build("$disconnect"), close_code, close_reason
            )
            logger.info("websocket %s disconnected: %s", connection_id, close_code)
            await self._invoke("$disconnect", event)

    async def _on_message(
        self,
        connection: LiveConnection,
        context: _RequestContextFactory,
        message: Message,
    ) -> asyncio.Task[None] | None:
        text = message.get("text")
        data = text.encode() if text is not None else message.get("bytes") or b""
        # NOTE: API Gateway also limits each frame to 32 KB; ASGI hands over whole
        # messages, so only the 128 KB message quota is enforced here.
        if len(data) > MAX_MESSAGE_BYTES:
            logger.info(
                "websocket %s sent %d bytes; closing with 1009",
                connection.connection_id,
                len(data),
            )
            await connection.close(CLOSE_MESSAGE_TOO_BIG, "Message too big")
            return None

        connection.touch()
        request_context = context.build("$default")
        request_context["messageId"] = _new_id()
        if text is not None:
            event = {
                "requestContext": request_context,
                "body": text,
                "isBase64Encoded": False,
            }
        else:
            event = {
                "requestContext": request_context,
                "body": base64.b64encode(data).decode(),
                "isBase64Encoded": True,
            }

        # API Gateway invokes the integration for each message without waiting for
        # the previous one, so messages are handled concurrently here too.
        return asyncio.create_task(self._handle_message(connection, event))

    async def _handle_message(
        self, connection: LiveConnection, event: dict[str, Any]
    ) -> None:
        response = await self._invoke("$default", event)
        if response.get("statusCode", 200) >= 500 and not connection.closed:
            # API Gateway reports an integration failure to the sender this way.
            error = {
                "message": "Internal server error",
                "connectionId": connection.connection_id,
                "requestId": event["requestContext"]["requestId"],
            }
            await connection.send_data(json.dumps(error).encode())

    async def _invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any]:
        """Call the app's handler for a route in a worker thread.

        A missing route counts as success, as for an API without that route. A
        handler that raises becomes a 500 response, as a failed Lambda invocation
        becomes an integration error on API Gateway.
        """
        config = self._app.websocket_handlers.get(route_key)
        if config is None:
            return {"statusCode": 200}
        handler = self._app.handler_map[config.name]
        lambda_context = LocalLambdaContext(function_name=f"websocket-{config.name}")
        try:
            result = await asyncio.to_thread(handler, event, lambda_context)
        except Exception:
            logger.exception(
                "websocket handler %s failed for connection %s",
                route_key,
                event["requestContext"]["connectionId"],
            )
            return {"statusCode": 500}
        return result if isinstance(result, dict) else {"statusCode": 200}

    async def _close_when_idle(self, connection: LiveConnection) -> None:
        """Close with 1001 after the idle timeout or the maximum connection age."""
        opened = time.monotonic()
        while not connection.closed:
            idle = (datetime.now(UTC) - connection.last_active_at).total_seconds()
            idle_left = self._idle_timeout - idle
            age_left = self._max_age - (time.monotonic() - opened)
            if idle_left <= 0 or age_left <= 0:
                reason = "Going away" if idle_left <= 0 else "Connection duration"
                logger.info(
                    "websocket %s closed by gateway: %s",
                    connection.connection_id,
                    reason,
                )
                await connection.close(CLOSE_GOING_AWAY, reason)
                return
            await asyncio.sleep(min(idle_left, age_left))


class _RequestContextFactory:
    """Build the ``requestContext`` of each event of one connection."""

    _EVENT_TYPES = {
        "$connect": "CONNECT",
        "$default": "MESSAGE",
        "$disconnect": "DISCONNECT",
    }

    def __init__(
        self,
        *,
        api_id: str,
        stage: str,
        domain_name: str,
        connection_id: str,
        connected_at: datetime,
        source_ip: str,
        user_agent: str,
    ) -> None:
        self._fixed = {
            "apiId": api_id,
            "stage": stage,
            "domainName": domain_name,
            "connectionId": connection_id,
            "connectedAt": int(connected_at.timestamp() * 1000),
            "messageDirection": "IN",
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        }

    def build(self, route_key: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        request_id = _new_id()
        return {
            **self._fixed,
            "identity": dict(self._fixed["identity"]),
            "routeKey": route_key,
            "eventType": self._EVENT_TYPES[route_key],
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
        }


def _connect_event(
    scope: Scope, headers: dict[str, str], request_context: dict[str, Any]
) -> dict[str, Any]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": (
            {key: values[-1] for key, values in query.items()} if query else None
        ),
        "multiValueQueryStringParameters": query or None,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }


def _disconnect_event(
    headers: dict[str, str],
    request_context: dict[str, Any],
    close_code: int,
    close_reason: str,
) -> dict[str, Any]:
    request_context["disconnectStatusCode"] = close_code
    request_context["disconnectReason"] = close_reason
    return {
        "headers": dict(headers),
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": request_context,
        "isBase64Encoded": False,
    }


async def _reject(
    scope: Scope, send: Send, status: int, response: dict[str, Any]
) -> None:
    """Refuse the upgrade with the ``$connect`` status when the server allows it."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        # Without the ASGI denial extension the server responds 403 to any rejection.
        await send({"type": "websocket.close", "code": 1008})
        return
    body = response.get("body") or ""
    data = body.encode() if isinstance(body, str) else bytes(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"date", format_datetime(datetime.now(UTC), usegmt=True).encode()),
    ]
    await send(
        {"type": "websocket.http.response.start", "status": status, "headers": headers}
    )
    await send({"type": "websocket.http.response.body", "body": data})


def _headers(scope: Scope) -> dict[str, str]:
    """Return request headers by lower-case name, plus X-Forwarded-For/Proto/Port.

    A repeated header keeps its last value. NOTE: API Gateway passes header names
    as the client sent them, but ASGI servers lower-case them, so handlers must
    look headers up case-insensitively.
    """
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }
    client_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
    headers["X-Forwarded-For"] = client_ip
    headers["X-Forwarded-Proto"] = scope.get("scheme", "ws").replace("ws", "http")
    headers["X-Forwarded-Port"] = str((scope.get("server") or ("", 0))[1])
    return headers


def _new_id() -> str:
    """Return an id shaped like API Gateway's connection and request ids.

    They are 16 characters of base64 ending in ``=``; the URL-safe alphabet keeps
    them usable as a path segment without quoting.
    """
    return base64.b64encode(os.urandom(11), altchars=b"-_").decode()
