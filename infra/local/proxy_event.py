"""Translate between HTTP requests and API Gateway REST proxy events (payload 1.0)."""

from __future__ import annotations

import base64
import fnmatch
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "000000000000"
API_ID = "local"


@dataclass(frozen=True)
class RouteMatch:
    """A request path resolved to a route template such as ``/patients/{id}``."""

    resource: str
    path_parameters: dict[str, str] | None


class RouteTable:
    """Resolve request paths against the route templates of a Chalice app.

    Chalice looks up the view by ``requestContext.resourcePath`` and takes view
    arguments from ``pathParameters``, so the gateway has to do the matching that
    API Gateway does in the cloud. Like API Gateway, a literal segment wins over a
    ``{name}`` segment at the same position, and ``{name+}`` as the last segment
    takes the rest of the path.
    """

    def __init__(self, templates: Iterable[str]) -> None:
        self._templates = [(t, _split(t)) for t in templates]

    def match(self, path: str) -> RouteMatch | None:
        """Return the best matching template for ``path``, or None when none fits."""
        segments = _split(path)
        best: tuple[tuple[int, ...], RouteMatch] | None = None
        for template, parts in self._templates:
            found = _match_segments(parts, segments)
            if found is None:
                continue
            rank, params = found
            if best is None or rank < best[0]:
                best = (rank, RouteMatch(template, params or None))
        return None if best is None else best[1]


def _split(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _match_segments(
    parts: list[str], segments: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """Match a template to path segments; rank 0 is literal, 1 variable, 2 greedy."""
    params: dict[str, str] = {}
    rank: list[int] = []
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            rank.append(2)
            return tuple(rank), params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[index]
            rank.append(1)
        elif part == segments[index]:
            rank.append(0)
        else:
            return None
    if len(parts) != len(segments):
        return None
    return tuple(rank), params


@dataclass
class HttpRequest:
    """The parts of an incoming HTTP request that go into a proxy event.

    ``headers`` keep their order and repeats; ``path`` is the URL-decoded path
    after the gateway's ``/api`` prefix has been removed.
    """

    method: str
    path: str
    query_string: bytes
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str


def build_proxy_event(
    request: HttpRequest,
    route: RouteMatch,
    *,
    stage: str,
    binary_types: Iterable[str] = (),
) -> dict[str, Any]:
    """Build the REST API Lambda proxy event (payload format 1.0) for ``request``."""
    headers, multi_headers = _fold_pairs(request.headers)
    # NOTE: parse_qsl also turns "+" into a space, as HTML forms encode it. Whether
    # API Gateway REST does the same for a raw "+" was not checked.
    query_pairs = parse_qsl(
        request.query_string.decode("latin-1"), keep_blank_values=True
    )
    query, multi_query = _fold_pairs(query_pairs)
    body, is_base64 = _encode_body(request, headers, binary_types)
    now = time.time()
    request_id = str(uuid.uuid4())
    return {
        "resource": route.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": route.path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": datetime.fromtimestamp(now, UTC).strftime(
                "%d/%b/%Y:%H:%M:%S +0000"
            ),
            "path": f"/{stage}{request.path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": request.host.split(":")[0].split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent"),
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
            },
            "domainName": request.host,
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _fold_pairs(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Build API Gateway's single-value map (last value wins) and multi-value map."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _encode_body(
    request: HttpRequest, headers: Mapping[str, str], binary_types: Iterable[str]
) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = headers.get("content-type", "").split(";")[0].strip()
    is_binary = any(fnmatch.fnmatch(content_type, t) for t in binary_types)
    if not is_binary:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            # API Gateway passes a non-UTF-8 body of a non-binary type through as
            # text; Python strings need valid text, so it goes out base64-encoded.
            pass
    return base64.b64encode(request.body).decode("ascii"), True


@dataclass
class ProxyResponse:
    """An HTTP response decoded from a Lambda proxy integration result."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class InvalidProxyResponse(ValueError):
    """Raised when a handler returns something API Gateway would reject with 502."""


def parse_proxy_result(result: Any) -> ProxyResponse:
    """Decode ``{statusCode, headers, multiValueHeaders, body, isBase64Encoded}``.

    Raises InvalidProxyResponse for a result without an integer status code or
    with a body that is not a string, the cases where API Gateway returns 502
    "Malformed Lambda proxy response".
    """
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise InvalidProxyResponse("statusCode is missing or not an integer")
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise InvalidProxyResponse("body is not a string")
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    else:
        body = raw_body.encode("utf-8")
    merged: dict[str, list[str]] = {}
    for name, value in (result.get("headers") or {}).items():
        merged[name.lower()] = [str(value)]
    # API Gateway combines both maps; a name in multiValueHeaders replaces the
    # single value of the same name.
    for name, values in (result.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = [str(v) for v in values]
    headers = [(name, value) for name, values in merged.items() for value in values]
    return ProxyResponse(result["statusCode"], headers, body)
