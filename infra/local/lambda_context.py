"""Lambda context object handed to handlers that run inside the local gateway."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 512


@dataclass
class LocalLambdaContext:
    """Stand-in for the context object the Lambda runtime passes to a handler.

    The attribute names match the Python runtime's context so that Chalice and
    Powertools (which read ``aws_request_id`` and ``function_name``) work unchanged.
    ``timeout_seconds`` sets the deadline behind ``get_remaining_time_in_millis``.
    """

    function_name: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit_in_mb: int = DEFAULT_MEMORY_MB
    region: str = "eu-north-1"
    account_id: str = "000000000000"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return (
            f"arn:aws:lambda:{self.region}:{self.account_id}"
            f":function:{self.function_name}"
        )

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    # Locally there is no Cognito identity or mobile client context; the
    # attributes exist so code that reads them gets None, as in most invocations.
    identity: None = None
    client_context: None = None

    def get_remaining_time_in_millis(self) -> int:
        """Return milliseconds left before the deadline, never below zero."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
