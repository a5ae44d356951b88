"""The local websocket gateway produces API Gateway events and serves @connections.

A small Chalice app records every event it gets. Real websocket clients
(``websockets``) and the unchanged boto3 ``apigatewaymanagementapi`` client talk
to the real gateway on uvicorn. No database is involved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice import Chalice, Response
from chalice.app import WebsocketEvent
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chalicelib.websocket_routes import ManagementWebsocketAPI
from infra.local.gateway import LocalGateway
from infra.local.serve import GatewayServer
from infra.local.services import find_free_port, http_probe, wait_until_healthy
from infra.local.websocket_gateway import WebsocketGateway
from triage_core.settings import reset_settings

STAGE = "local"
GOOD_TOKEN = "letmein"
USER_AGENT = "triage-test/1.0"

echo_app = Chalice(app_name="websocket-echo")
echo_app.experimental_feature_flags.update(["WEBSOCKETS"])
echo_app.websocket_api = ManagementWebsocketAPI()
echo_app.websocket_api.session = boto3.session.Session(
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
recorded: list[dict[str, Any]] = []


@echo_app.on_ws_connect()
def echo_connect(event: WebsocketEvent) -> Response:
    recorded.append(event.to_dict())
    query = event.to_dict().get("queryStringParameters") or {}
    if query.get("token") != GOOD_TOKEN:
        return Response(body={"message": "bad token"}, status_code=401)
    return Response(body="")


@echo_app.on_ws_message()
def echo_message(event: WebsocketEvent) -> None:
    recorded.append(event.to_dict())
    if event.body == "raise":
        raise RuntimeError("handler failure requested by the test")
    reply = {"echo": event.body, "connection_id": event.connection_id}
    echo_app.websocket_api.send(event.connection_id, json.dumps(reply))


@echo_app.on_ws_disconnect()
def echo_disconnect(event: WebsocketEvent) -> None:
    recorded.append(event.to_dict())


def _serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **limits: float
) -> Iterator[str]:
    port = find_free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("WEBSOCKET_MANAGEMENT_URL", f"{url}/{STAGE}")
    reset_settings()
    websocket = WebsocketGateway(
        app=echo_app, stage=STAGE, domain_name=f"127.0.0.1:{port}", **limits
    )
    gateway = LocalGateway(
        echo_app, stage=STAGE, frontend_dir=tmp_path, websocket=websocket
    )
    (tmp_path / "index.html").write_text("<p>ok</p>")
    server = GatewayServer(gateway, port)
    server.start_in_thread()
    wait_until_healthy("gateway", http_probe(url + "/"), timeout=10)
    yield url
    server.stop()
    reset_settings()


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _serve(tmp_path_factory.mktemp("echo"), monkeypatch)


@pytest.fixture()
def management(gateway_url: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{gateway_url}/{STAGE}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _ws(gateway_url: str, token: str | None = GOOD_TOKEN) -> ClientConnection:
    query = f"?token={token}&view=board" if token is not None else ""
    return connect(
        gateway_url.replace("http", "ws") + "/ws" + query,
        user_agent_header=USER_AGENT,
        proxy=None,
        open_timeout=5,
    )


def _echo(client: ClientConnection, text: str) -> dict[str, Any]:
    client.send(text)
    return json.loads(client.recv(timeout=5))


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the timeout")
        time.sleep(0.02)


def _events_of(connection_id: str, route_key: str) -> list[dict[str, Any]]:
    return [
        event
        for event in recorded
        if event["requestContext"]["connectionId"] == connection_id
        and event["requestContext"]["routeKey"] == route_key
    ]


def test_connect_event_has_api_gateway_shape(gateway_url: str) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "hello")["connection_id"]
    event = _events_of(connection_id, "$connect")[0]
    context = event["requestContext"]
    assert event["queryStringParameters"] == {"token": GOOD_TOKEN, "view": "board"}
    assert event["multiValueQueryStringParameters"] == {
        "token": [GOOD_TOKEN],
        "view": ["board"],
    }
    assert event["headers"]["user-agent"] == USER_AGENT
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False
    assert context["eventType"] == "CONNECT"
    assert context["stage"] == STAGE
    assert context["domainName"] == gateway_url.removeprefix("http://")
    assert context["apiId"] == "localwsapi"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["messageDirection"] == "IN"
    assert len(connection_id) == 16
    assert connection_id.endswith("=")
    assert len(context["requestId"]) == 16
    assert abs(context["connectedAt"] / 1000 - time.time()) < 60
    assert context["requestTimeEpoch"] >= context["connectedAt"]


def test_message_event_has_api_gateway_shape(gateway_url: str) -> None:
    with _ws(gateway_url) as client:
        reply = _echo(client, '{"action": "subscribe"}')
    connection_id = reply["connection_id"]
    assert reply["echo"] == '{"action": "subscribe"}'
    event = _events_of(connection_id, "$default")[0]
    context = event["requestContext"]
    connect_context = _events_of(connection_id, "$connect")[0]["requestContext"]
    assert event["body"] == '{"action": "subscribe"}'
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event
    assert context["eventType"] == "MESSAGE"
    assert len(context["messageId"]) == 16
    assert context["connectedAt"] == connect_context["connectedAt"]
    assert context["requestId"] != connect_context["requestId"]


def test_disconnect_event_carries_close_code(gateway_url: str) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "x")["connection_id"]
        client.close(code=4000, reason="bye")
    _wait_for(lambda: _events_of(connection_id, "$disconnect"))
    context = _events_of(connection_id, "$disconnect")[0]["requestContext"]
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 4000
    assert context["disconnectReason"] == "bye"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_connect_rejection_refuses_upgrade(gateway_url: str, token: str | None) -> None:
    with pytest.raises(InvalidStatus) as caught:
        _ws(gateway_url, token=token)
    response = caught.value.response
    assert response.status_code == 401
    assert json.loads(response.body) == {"message": "bad token"}


def test_handler_error_reported_to_sender(gateway_url: str) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "who")["connection_id"]
        error = _echo(client, "raise")
    assert error["message"] == "Internal server error"
    assert error["connectionId"] == connection_id


def test_oversized_message_closes_with_1009(gateway_url: str) -> None:
    with _ws(gateway_url) as client:
        client.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as caught:
            client.recv(timeout=5)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1009


def test_post_to_connection_reaches_client(gateway_url: str, management: Any) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "id?")["connection_id"]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"n": 1}')
        assert json.loads(client.recv(timeout=5)) == {"n": 1}


def test_get_connection_describes_client(gateway_url: str, management: Any) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "id?")["connection_id"]
        info = management.get_connection(ConnectionId=connection_id)
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": USER_AGENT}
    assert isinstance(info["ConnectedAt"], datetime)
    assert info["ConnectedAt"].tzinfo is not None
    assert abs((datetime.now(UTC) - info["ConnectedAt"]).total_seconds()) < 60
    assert info["LastActiveAt"] >= info["ConnectedAt"]


def test_delete_connection_closes_client(gateway_url: str, management: Any) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "id?")["connection_id"]
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as caught:
            client.recv(timeout=5)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1000
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)
    _wait_for(lambda: _events_of(connection_id, "$disconnect"))
    context = _events_of(connection_id, "$disconnect")[0]["requestContext"]
    assert context["disconnectStatusCode"] == 1000


@pytest.mark.parametrize("operation", ["post", "get", "delete"])
def test_unknown_connection_is_gone(management: Any, operation: str) -> None:
    calls = {
        "post": lambda: management.post_to_connection(
            ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x"
        ),
        "get": lambda: management.get_connection(ConnectionId="AAAAAAAAAAAAAAA="),
        "delete": lambda: management.delete_connection(ConnectionId="AAAAAAAAAAAAAAA="),
    }
    with pytest.raises(management.exceptions.GoneException) as caught:
        calls[operation]()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_closed_connection_is_gone(gateway_url: str, management: Any) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "id?")["connection_id"]
    _wait_for(lambda: _events_of(connection_id, "$disconnect"))
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_oversized_post_is_rejected(gateway_url: str, management: Any) -> None:
    with _ws(gateway_url) as client:
        connection_id = _echo(client, "id?")["connection_id"]
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(
                ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1)
            )


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"idle_timeout_seconds": 0.3}, "Going away"),
        ({"max_connection_seconds": 0.3}, "Connection duration"),
    ],
)
def test_gateway_closes_with_1001(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limits: dict[str, float],
    reason: str,
) -> None:
    server = _serve(tmp_path, monkeypatch, **limits)
    url = next(server)
    try:
        with _ws(url) as client, pytest.raises(ConnectionClosed) as caught:
            client.recv(timeout=10)
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1001
        assert caught.value.rcvd.reason == reason
    finally:
        next(server, None)
