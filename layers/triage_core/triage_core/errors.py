"""Typed errors that every route maps to one response shape.

The shape is ``{"error": {"code": ..., "message": ..., "field": ...}}``; ``field`` is
``null`` when the error is not about one input field.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Base error with an HTTP status, a stable code and an optional field name."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "field": self.field}
        }


class ValidationFailed(ApiError):
    status = 400
    code = "validation_error"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"
