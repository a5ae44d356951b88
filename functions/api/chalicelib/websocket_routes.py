"""Websocket handlers of the API: ``$connect``, ``$default`` and ``$disconnect``.

The handlers only translate between Chalice events and ``triage_core.connections``.
Clients connect with ``?token=<access token>`` because browsers cannot set headers
on a websocket handshake. A non-2xx ``$connect`` response makes API Gateway (and the
local gateway) refuse the upgrade with that status.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from chalice import Chalice, Response, WebsocketDisconnectedError
from chalice.app import WebsocketAPI, WebsocketEvent
from pymongo.errors import PyMongoError

from triage_core.connections import (
    InvalidClientMessage,
    UnknownConnection,
    handle_client_message,
    open_connection,
    remove_connection,
)
from triage_core.errors import ApiError, ServiceUnavailable
from triage_core.settings import get_settings
from triage_core.storage import get_database

logger = Logger(service="triage-api", child=True)


class ManagementWebsocketAPI(WebsocketAPI):
    """Chalice's websocket client, pointed at ``WEBSOCKET_MANAGEMENT_URL`` when set.

    Chalice derives ``https://{api_id}.execute-api.{region}.amazonaws.com/{stage}``
    from each event. The setting overrides that, so that replies reach the local
    gateway (plain HTTP) or a custom domain.
    """

    def __init__(self) -> None:
        super().__init__()
        self._client_lock = threading.Lock()

    def _get_client(self) -> Any:
        # Handlers run in parallel threads locally, and creating a client from a
        # shared boto3 session is not thread-safe.
        with self._client_lock:
            return super()._get_client()

    def configure_from_api_id(self, api_id: str, stage: str) -> None:
        management_url = get_settings().websocket_management_url
        if management_url and self._endpoint is None:
            # Chalice has no public setter for a full endpoint URL; configure()
            # would force https and the execute-api host.
            self._endpoint = management_url.rstrip("/")
            return
        super().configure_from_api_id(api_id, stage)


def register_websocket_routes(app: Chalice) -> tuple[Any, Any, Any]:
    """Attach the three websocket handlers to ``app`` and return them.

    Call it once, after enabling the ``WEBSOCKETS`` experimental feature flag.
    It replaces ``app.websocket_api`` before registering, because Chalice binds
    each handler to the websocket client that exists at registration time.
    Lambda looks each handler up as ``app.<function name>``, so app.py must
    assign the returned ``(ws_connect, ws_message, ws_disconnect)`` to those names.
    """
    websocket_api = ManagementWebsocketAPI()
    websocket_api.session = boto3.session.Session()
    app.websocket_api = websocket_api

    @app.on_ws_connect()
    def ws_connect(event: WebsocketEvent) -> Response:
        _set_correlation_id(event)
        query = event.to_dict().get("queryStringParameters") or {}
        try:
            open_connection(get_database(), event.connection_id, query.get("token"))
        except ApiError as error:
            logger.info(
                "websocket connect rejected",
                connection_id=event.connection_id,
                status=error.status,
                code=error.code,
            )
            return _error_response(error)
        except PyMongoError as exc:
            logger.error(
                "websocket connect failed",
                connection_id=event.connection_id,
                error=type(exc).__name__,
            )
            return _error_response(ServiceUnavailable("database is unavailable"))
        return Response(body="", status_code=200)

    @app.on_ws_message()
    def ws_message(event: WebsocketEvent) -> None:
        _set_correlation_id(event)
        try:
            reply = handle_client_message(
                get_database(), event.connection_id, event.body
            )
        except InvalidClientMessage as error:
            logger.info(
                "websocket message rejected",
                connection_id=event.connection_id,
                field=error.field,
            )
            reply = error.to_reply()
        except UnknownConnection as error:
            logger.info(
                "websocket message from unknown connection",
                connection_id=event.connection_id,
            )
            reply = error.to_reply()
        _send(app, event.connection_id, reply)

    @app.on_ws_disconnect()
    def ws_disconnect(event: WebsocketEvent) -> None:
        _set_correlation_id(event)
        removed = remove_connection(get_database(), event.connection_id)
        logger.info(
            "websocket disconnected",
            connection_id=event.connection_id,
            removed=removed,
        )

    return ws_connect, ws_message, ws_disconnect


def _set_correlation_id(event: WebsocketEvent) -> None:
    """Tag this invocation's log lines with API Gateway's request id."""
    request_context = event.to_dict().get("requestContext") or {}
    logger.set_correlation_id(request_context.get("requestId"))


def _send(app: Chalice, connection_id: str, message: dict[str, Any]) -> None:
    """Post a reply to one connection, deleting it when API Gateway returns 410."""
    try:
        app.websocket_api.send(connection_id, json.dumps(message))
    except WebsocketDisconnectedError:
        logger.info("websocket reply target is gone", connection_id=connection_id)
        remove_connection(get_database(), connection_id)


def _error_response(error: ApiError) -> Response:
    return Response(
        body=error.to_body(),
        status_code=error.status,
        headers={"Content-Type": "application/json"},
    )
