"""The local gateway turns HTTP into REST proxy events for a Chalice app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice import Chalice, Response
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from infra.local.gateway import LocalGateway
from infra.local.serve import GatewayServer
from infra.local.services import find_free_port, http_probe, wait_until_healthy

echo_app = Chalice(app_name="gateway-echo")


@echo_app.route("/patients", methods=["GET", "POST"])
def list_patients() -> dict[str, Any]:
    return {"event": echo_app.current_request.to_original_event()}


@echo_app.route("/patients/{patient_id}")
def get_patient(patient_id: str) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "event": echo_app.current_request.to_original_event(),
    }


@echo_app.route("/wards", cors=True)
def list_wards() -> list[str]:
    return ["icu"]


@echo_app.route("/patients/stats")
def patient_stats() -> dict[str, str]:
    return {"route": "stats"}


@echo_app.route("/slow")
def slow() -> dict[str, str]:
    time.sleep(1.5)
    return {"done": "yes"}


@echo_app.route("/headers")
def multi_headers() -> Response:
    return Response(
        body="plain",
        status_code=202,
        headers={"X-One": "1", "Set-Cookie": ["a=1", "b=2"]},
    )


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    frontend = tmp_path_factory.mktemp("frontend")
    (frontend / "index.html").write_text("<h1>board</h1>")
    (frontend / "js").mkdir()
    (frontend / "js" / "app.js").write_text("console.log(1);")
    port = find_free_port()
    gateway = LocalGateway(
        echo_app,
        stage="local",
        frontend_dir=frontend,
        timeout_seconds=1.0,
        max_request_bytes=1024,
    )
    server = GatewayServer(gateway, port)
    server.start_in_thread()
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy("gateway", http_probe(url + "/"), timeout=10)
    yield url
    server.stop()


def test_event_has_rest_proxy_shape(gateway_url: str) -> None:
    response = requests.get(
        gateway_url + "/api/patients?status=arrived&page=2&page=3",
        headers={"X-Trace": "abc"},
        timeout=5,
    )
    assert response.status_code == 200

    event = response.json()["event"]
    assert event["resource"] == "/patients"
    assert event["path"] == "/patients"
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"status": "arrived", "page": "3"}
    assert event["multiValueQueryStringParameters"] == {
        "status": ["arrived"],
        "page": ["2", "3"],
    }
    assert event["headers"]["x-trace"] == "abc"
    assert event["multiValueHeaders"]["x-trace"] == ["abc"]
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False

    context = event["requestContext"]
    assert context["stage"] == "local"
    assert context["resourcePath"] == "/patients"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == gateway_url.removeprefix("http://")
    assert len(context["requestId"]) == 36
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert response.headers["x-amzn-requestid"] == context["requestId"]


def test_post_body_reaches_app(gateway_url: str) -> None:
    response = requests.post(gateway_url + "/api/patients", json={"age": 71}, timeout=5)
    event = response.json()["event"]
    assert event["httpMethod"] == "POST"
    assert json.loads(event["body"]) == {"age": 71}
    assert event["queryStringParameters"] is None


def test_path_parameters_filled(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/api/patients/pat_0123", timeout=5)
    payload = response.json()
    assert payload["patient_id"] == "pat_0123"
    assert payload["event"]["resource"] == "/patients/{patient_id}"
    assert payload["event"]["path"] == "/patients/pat_0123"
    assert payload["event"]["pathParameters"] == {"patient_id": "pat_0123"}


def test_literal_route_beats_parameter(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/api/patients/stats", timeout=5)
    assert response.json() == {"route": "stats"}


def test_unknown_route_is_404(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/api/nowhere", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_405(gateway_url: str) -> None:
    response = requests.delete(gateway_url + "/api/patients", timeout=5)
    assert response.status_code == 405


def test_body_over_limit_is_413(gateway_url: str) -> None:
    response = requests.post(gateway_url + "/api/patients", data=b"x" * 1025, timeout=5)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_slow_handler_is_504(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/api/slow", timeout=5)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "integration_timeout"


def test_response_headers_and_status(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/api/headers", timeout=5)
    assert response.status_code == 202
    assert response.text == "plain"
    assert response.headers["x-one"] == "1"
    assert response.raw.headers.getlist("set-cookie") == ["a=1", "b=2"]


def test_index_served_at_root(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/", timeout=5)
    assert response.status_code == 200
    assert response.text == "<h1>board</h1>"
    assert response.headers["content-type"].startswith("text/html")


def test_static_file_and_missing(gateway_url: str) -> None:
    assert requests.get(gateway_url + "/js/app.js", timeout=5).text == "console.log(1);"
    assert requests.get(gateway_url + "/js/none.js", timeout=5).status_code == 404
    traversal = requests.get(gateway_url + "/js/%2e%2e/%2e%2e/etc/passwd", timeout=5)
    assert traversal.status_code == 404


def test_config_js_names_same_origin(gateway_url: str) -> None:
    response = requests.get(gateway_url + "/config.js", timeout=5)
    host = gateway_url.removeprefix("http://")
    assert response.headers["content-type"] == "application/javascript"
    prefix = "window.TRIAGE_CONFIG = "
    assert response.text.startswith(prefix)
    config = json.loads(response.text.removeprefix(prefix).strip().rstrip(";"))
    assert config == {
        "apiBaseUrl": f"http://{host}/api",
        "websocketUrl": f"ws://{host}/ws",
    }


def test_query_values_url_decoded(gateway_url: str) -> None:
    response = requests.get(
        gateway_url + "/api/patients?since=2026-12-04T10%3A00%3A00%2B01%3A00", timeout=5
    )
    event = response.json()["event"]
    assert event["queryStringParameters"] == {"since": "2026-12-04T10:00:00+01:00"}


def test_connections_api_missing_is_501(gateway_url: str) -> None:
    response = requests.post(
        gateway_url + "/local/@connections/abc123", data=b"{}", timeout=5
    )
    assert response.status_code == 501


def test_websocket_missing_is_501(gateway_url: str) -> None:
    ws_url = gateway_url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as caught:
        connect(ws_url, open_timeout=5)
    assert caught.value.response.status_code == 501


def test_preflight_returns_cors_headers(gateway_url: str) -> None:
    response = requests.options(gateway_url + "/api/wards", timeout=5)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert "Authorization" in response.headers["access-control-allow-headers"]


def test_preflight_without_cors_is_405(gateway_url: str) -> None:
    response = requests.options(gateway_url + "/api/patients", timeout=5)
    assert response.status_code == 405
