"""Request helpers shared by the REST routes: JSON in and out, errors, current user."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger
from chalice import Chalice, Response
from pymongo.errors import ConnectionFailure, PyMongoError

from triage_core.errors import (
    ApiError,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)

logger = Logger(service="triage-api", child=True)

# API Gateway accepts 10 MB; no request of ours needs more than a few kilobytes, so a
# larger body is an error or an attack.
MAX_BODY_BYTES = 64 * 1024


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        body=json.dumps(body, default=_default, separators=(",", ":")),
        status_code=status,
        headers={
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.to_body(), status=error.status)


# Chalice returns a few errors itself (wrong method, unsupported media type) with
# {"Code": ..., "Message": ...}; these codes map them to the API's error shape.
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "NotFoundError": "not_found",
    "InternalServerError": "internal_error",
}


def normalize_error(response: Response) -> Response:
    """Rewrite a Chalice-generated error body into the API's error shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict):
        return response
    if set(body) != {"Code", "Message"}:
        return response
    code = _CHALICE_CODES.get(str(body["Code"]), "error")
    normalized = {
        "error": {"code": code, "message": str(body["Message"]), "field": None}
    }
    headers = {
        key: value
        for key, value in (response.headers or {}).items()
        if key.lower() != "content-type"
    }
    return json_response(normalized, status=response.status_code, headers=headers)


def json_body(app: Chalice) -> Any:
    """Return the parsed request body or raise a 400/413 naming the problem."""
    raw = app.current_request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}",
            field="body",
        )
    if not raw:
        raise ValidationFailed("request body is empty; send a JSON object", "body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("request body is not valid JSON", field="body") from None
    except RecursionError:
        # A few kilobytes of "[[[[..." exhaust the decoder's recursion limit.
        raise ValidationFailed(
            "request body nests arrays or objects too deeply", field="body"
        ) from None


def query_params(app: Chalice) -> dict[str, str]:
    return dict(app.current_request.query_params or {})


def request_id(app: Chalice) -> str | None:
    return (app.current_request.context or {}).get("requestId")


def handle_errors(view: Callable[..., Response]) -> Callable[..., Response]:
    """Map typed errors to the API's error shape; never leak a stack trace."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiError as exc:
            if exc.status >= 500:
                logger.error("request failed", extra={"code": exc.code})
            return error_response(exc)
        except ConnectionFailure as exc:
            logger.error("database unavailable", extra={"error": type(exc).__name__})
            return error_response(
                ServiceUnavailable("database is unavailable; retry shortly")
            )
        except PyMongoError as exc:
            logger.error("database error", extra={"error": type(exc).__name__})
            return error_response(ServiceUnavailable("database error; retry shortly"))
        except Exception:  # noqa: BLE001 - last resort, the client gets a generic 500
            logger.exception("unhandled error")
            return error_response(ApiError("internal error; the request was logged"))

    return wrapper
