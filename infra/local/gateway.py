"""ASGI app that plays API Gateway in front of the Chalice app, locally.

Routing on one origin:

- ``/api/...``: REST API. The prefix is removed and the rest is matched against
  the Chalice routes, then sent to the app as a REST proxy event (payload 1.0).
- ``/ws``: websocket API, handed to the websocket gateway.
- ``/{stage}/@connections/{id}``: the management API the notify function calls.
- anything else: static files from ``frontend/`` and a generated ``/config.js``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from infra.local.lambda_context import LocalLambdaContext
from infra.local.proxy_event import (
    HttpRequest,
    InvalidProxyResponse,
    ProxyResponse,
    RouteTable,
    build_proxy_event,
    parse_proxy_result,
)
from infra.local.static_files import StaticSite

logger = logging.getLogger(__name__)

API_PREFIX = "/api"
WEBSOCKET_PATH = "/ws"
# API Gateway REST limits: 10 MiB request payload, 29 s integration timeout.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29.0
# Synchronous Lambda invocations accept at most 6 MB in each direction.
MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class WebsocketHandlers(Protocol):
    """Interface the gateway expects from ``infra.local.websocket_gateway``."""

    async def handle_websocket(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve one websocket connection on ``/ws``."""

    async def handle_connections_api(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve POST/GET/DELETE on ``/{stage}/@connections/{connection_id}``."""


class PayloadTooLarge(Exception):
    """Raised while reading a request body that exceeds the API Gateway limit."""


class LocalGateway:
    """ASGI application for the local gateway.

    ``app`` is the Chalice app object. ``websocket`` serves ``/ws`` and the
    ``@connections`` API; without it those paths return 501. ``on_startup`` and
    ``on_shutdown`` run in the ASGI lifespan (the SQS event source hangs there).
    """

    def __init__(
        self,
        app: Any,
        *,
        stage: str,
        frontend_dir: Path,
        websocket: WebsocketHandlers | None = None,
        function_name: str = "api",
        timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        on_startup: list[Hook] | None = None,
        on_shutdown: list[Hook] | None = None,
    ) -> None:
        self.app = app
        self.stage = stage
        self.websocket = websocket
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.max_request_bytes = max_request_bytes
        self.routes = RouteTable(app.routes.keys())
        self.static = StaticSite(frontend_dir, API_PREFIX, WEBSOCKET_PATH)
        self._on_startup = on_startup or []
        self._on_shutdown = on_shutdown or []
        self._connections_prefix = f"/{stage}/@connections/"
        # A Lambda execution environment serves one request at a time, and
        # Chalice keeps the current request on the app object, so calls into the
        # app are serialised. API Gateway in the cloud would fan concurrent
        # requests out to more environments; here they queue behind this lock.
        self._invoke_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self._on_startup:
                        await hook()
                except Exception as exc:
                    logger.exception("gateway start-up hook failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self._on_shutdown:
                    try:
                        await hook()
                    except Exception:
                        logger.exception("gateway shutdown hook failed")
                self._executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == WEBSOCKET_PATH and self.websocket is not None:
            await self.websocket.handle_websocket(scope, receive, send)
            return
        status = 501 if scope["path"] == WEBSOCKET_PATH else 404
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            body = json.dumps({"message": "websocket API is not available"})
            await send({"type": "websocket.http.response.body", "body": body.encode()})
        else:
            await send({"type": "websocket.close", "code": 1011})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self._api(scope, receive, send, path[len(API_PREFIX) :] or "/")
        elif path.startswith(self._connections_prefix):
            if self.websocket is None:
                await _send_json(send, 501, {"message": "@connections is unavailable"})
            else:
                await self.websocket.handle_connections_api(scope, receive, send)
        else:
            await self._static(scope, send, path)

    async def _static(self, scope: Scope, send: Send, path: str) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send_json(send, 405, {"message": "Method Not Allowed"})
            return
        host = _header(scope, "host") or "127.0.0.1"
        response = self.static.get(path, host, scope.get("scheme", "http"))
        if response is None:
            await _send_json(send, 404, {"message": "Not Found"})
            return
        headers = [
            (b"content-type", response.content_type.encode()),
            (b"cache-control", b"no-cache"),
        ]
        body = b"" if scope["method"] == "HEAD" else response.body
        await _send(send, 200, headers, body, content_length=len(response.body))

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        started = time.monotonic()
        try:
            body = await self._read_body(scope, receive)
        except PayloadTooLarge:
            await _send_json(
                send,
                413,
                gateway_error("payload_too_large", "request body is over 10 MB"),
            )
            return

        route = self.routes.match(path)
        if route is None:
            # API Gateway REST reports an unknown path as MISSING_AUTHENTICATION_TOKEN;
            # template.yaml's gateway response turns that into this 404 and body.
            await _send_json(
                send, 404, gateway_error("not_found", f"no route for {path}")
            )
            return
        if scope["method"] == "OPTIONS" and "OPTIONS" not in self.app.routes.get(
            route.resource, {}
        ):
            await self._preflight(send, route.resource)
            return

        request = HttpRequest(
            method=scope["method"],
            path=path,
            query_string=scope.get("query_string", b""),
            # ASGI servers lower-case header names, while API Gateway keeps the
            # client's spelling; Chalice looks headers up case-insensitively.
            headers=[
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in scope["headers"]
            ],
            body=body,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            host=_header(scope, "host") or "127.0.0.1",
        )
        event = build_proxy_event(
            request, route, stage=self.stage, binary_types=self.app.api.binary_types
        )
        response = await self._invoke(event)

        logger.info(
            "api %s %s -> %d in %.0f ms (request %s)",
            request.method,
            route.resource,
            response.status,
            (time.monotonic() - started) * 1000,
            event["requestContext"]["requestId"],
        )

        headers = [
            (n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers
        ]
        headers.append(
            (b"x-amzn-requestid", event["requestContext"]["requestId"].encode())
        )
        await _send(send, response.status, headers, response.body)

    async def _preflight(self, send: Send, resource: str) -> None:
        """Respond to a CORS preflight the way Chalice's generated OPTIONS method does.

        A deployed Chalice app gets a mock-integration OPTIONS method on every
        resource with a CORS-enabled route; no Lambda runs for it.
        """
        entries = self.app.routes.get(resource, {})
        cors_entries = {m: e for m, e in entries.items() if e.cors}
        if not cors_entries:
            await _send_json(
                send, 405, gateway_error("method_not_allowed", "method not allowed")
            )
            return
        config = next(iter(cors_entries.values())).cors
        headers = [
            (name.lower().encode(), value.encode())
            for name, value in config.get_access_control_headers().items()
        ]
        methods = ",".join(sorted([*cors_entries, "OPTIONS"]))
        headers.append((b"access-control-allow-methods", methods.encode()))
        await _send(send, 200, headers, b"")

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, "content-length")
        if declared and declared.isdigit() and int(declared) > self.max_request_bytes:
            raise PayloadTooLarge
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_request_bytes:
                raise PayloadTooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _invoke(self, event: dict[str, Any]) -> ProxyResponse:
        """Call the Chalice app in a worker thread under the integration timeout."""
        if len(json.dumps(event)) > MAX_LAMBDA_PAYLOAD_BYTES:
            # NOTE: a body between 6 MB and 10 MB passes API Gateway but fails the
            # Lambda invoke. The status API Gateway reports for it was not checked
            # against the cloud; 413 is used here.
            return _json_response(413, {"message": "Request Too Long"})
        context = LocalLambdaContext(
            function_name=self.function_name,
            timeout_seconds=self.timeout_seconds,
            aws_request_id=event["requestContext"]["requestId"],
        )
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._call_app, event, context)
        try:
            result = await asyncio.wait_for(future, self.timeout_seconds)
        except TimeoutError:
            # The worker thread cannot be killed, so it runs on in the background
            # and still holds the invoke lock; API Gateway would leave the Lambda
            # running the same way.
            logger.error(
                "api request %s timed out after %.0f s",
                event["requestContext"]["requestId"],
                self.timeout_seconds,
            )
            return _json_response(
                504, gateway_error("integration_timeout", "the function timed out")
            )
        except Exception:
            logger.exception(
                "api handler failed (request %s)", event["requestContext"]["requestId"]
            )
            return _json_response(
                502,
                gateway_error(
                    "bad_gateway", "the function returned an invalid response"
                ),
            )
        try:
            response = parse_proxy_result(result)
        except InvalidProxyResponse as exc:
            logger.error("malformed Lambda proxy response: %s", exc)
            return _json_response(
                502,
                gateway_error(
                    "bad_gateway", "the function returned an invalid response"
                ),
            )
        if len(response.body) > MAX_LAMBDA_PAYLOAD_BYTES:
            logger.error("Lambda response body exceeds 6 MB")
            return _json_response(
                502,
                gateway_error(
                    "bad_gateway", "the function returned an invalid response"
                ),
            )
        return response

    def _call_app(self, event: dict[str, Any], context: LocalLambdaContext) -> Any:
        with self._invoke_lock:
            return self.app(event, context)


def _header(scope: Scope, name: str) -> str | None:
    expected = name.encode()
    for key, value in scope["headers"]:
        if key == expected:
            return value.decode("latin-1")
    return None


def _json_response(status: int, payload: dict[str, Any]) -> ProxyResponse:
    return ProxyResponse(
        status, [("content-type", "application/json")], json.dumps(payload).encode()
    )


def gateway_error(code: str, message: str) -> dict[str, Any]:
    """Return the API's error shape, as template.yaml's gateway responses produce it."""
    return {"error": {"code": code, "message": message, "field": None}}


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await _send(send, status, [(b"content-type", b"application/json")], body)


async def _send(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    content_length: int | None = None,
) -> None:
    length = len(body) if content_length is None else content_length
    headers = [h for h in headers if h[0].lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
