"""Feed an SQS queue to a Lambda-style handler the way an event source mapping does.

One background thread long-polls the queue, builds the Lambda SQS event (``Records``
with ``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``eventSource``
``aws:sqs`` and ``eventSourceARN``), calls ``handler(event, context)`` and deletes
the messages that succeeded. The mapping is assumed to have
``ReportBatchItemFailures`` on, as the notify function expects: a returned
``batchItemFailures`` list keeps those messages on the queue, and an exception keeps
the whole batch. Kept messages come back after the queue's visibility timeout, and
the queue's own redrive policy moves them to the dead-letter queue after
``maxReceiveCount`` receives. boto3 takes the endpoint from ``AWS_ENDPOINT_URL_SQS``
or ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)

# ReceiveMessage returns at most 10 messages per call.
MAX_MESSAGES_PER_RECEIVE = 10
ERROR_BACKOFF_SECONDS = 1.0

LambdaHandler = Callable[[dict[str, Any], Any], Any]


class SqsEventSource:
    """A polling thread that invokes ``handler`` with batches from one queue."""

    def __init__(
        self,
        queue_url: str,
        handler: LambdaHandler,
        *,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        max_receive_count: int = 3,
        wait_seconds: int = 1,
        function_name: str = "notify",
    ) -> None:
        if not 1 <= batch_size <= MAX_MESSAGES_PER_RECEIVE:
            # NOTE: Lambda accepts larger batches with a batching window; this
            # poller makes one ReceiveMessage call per batch, which caps it at 10.
            raise ValueError(f"batch_size must be 1 to 10, got {batch_size}")
        self.queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._visibility_timeout = visibility_timeout
        self._max_receive_count = max_receive_count
        self._wait_seconds = wait_seconds
        self._function_name = function_name
        self._client = boto3.client("sqs")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queue_arn = ""
        self.region = self._client.meta.region_name or "us-east-1"

    def load_queue_attributes(self) -> None:
        """Read the queue's ARN, visibility timeout and redrive policy.

        As for a Lambda event source mapping, the queue's attributes decide how
        long a received message stays hidden and when it moves to the dead-letter
        queue. The constructor's values are what the caller expects, and a
        mismatch is logged.
        """
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["QueueArn", "RedrivePolicy", "VisibilityTimeout"],
        )["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        self.region = self.queue_arn.split(":")[3] or self.region
        self._check_visibility_timeout(int(attributes.get("VisibilityTimeout", 30)))
        self._check_redrive_policy(attributes.get("RedrivePolicy"))

    def start(self) -> SqsEventSource:
        """Read the queue attributes, then start polling in a daemon thread."""
        self.load_queue_attributes()
        self._thread = threading.Thread(
            target=self._run,
            name=f"sqs-event-source-{self._function_name}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "SQS event source started queue=%s function=%s batch_size=%d",
            self.queue_arn,
            self._function_name,
            self._batch_size,
        )
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling and wait for the current batch to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(
                timeout if timeout is not None else self._wait_seconds + 30
            )
        logger.info("SQS event source stopped queue=%s", self.queue_arn)

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler and delete what succeeded.

        Returns the number of messages received.
        """
        response = self._client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [self._record(message) for message in messages]
        for record in records:
            count = int(record["attributes"].get("ApproximateReceiveCount", "1"))
            if count > 1:
                logger.info(
                    "retrying message_id=%s receive %d of %d",
                    record["messageId"],
                    count,
                    self._max_receive_count,
                )
        failed_ids = self._invoke(records)
        succeeded = [r for r in records if r["messageId"] not in failed_ids]
        self._delete(succeeded)
        for record in records:
            if record["messageId"] in failed_ids:
                count = int(record["attributes"].get("ApproximateReceiveCount", "1"))
                logger.warning(
                    "message_id=%s failed on receive %d of %d; it returns after "
                    "the queue's visibility timeout, or goes to the dead-letter "
                    "queue after the last receive",
                    record["messageId"],
                    count,
                    self._max_receive_count,
                )
        return len(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as exc:
                logger.error(
                    "SQS poll failed queue=%s error=%s; retrying in %.0fs",
                    self.queue_arn,
                    exc,
                    ERROR_BACKOFF_SECONDS,
                )
                self._stop.wait(ERROR_BACKOFF_SECONDS)

    def _invoke(self, records: list[dict[str, Any]]) -> set[str]:
        """Call the handler; return the ids of the messages to keep on the queue."""
        all_ids = {record["messageId"] for record in records}
        context = LocalLambdaContext(
            function_name=self._function_name,
            timeout_seconds=float(self._visibility_timeout),
            region=self.region,
        )
        try:
            result = self._handler({"Records": records}, context)
        except Exception:
            logger.exception(
                "handler %s failed; keeping all %d messages of the batch",
                self._function_name,
                len(records),
            )
            return all_ids
        if not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        failed_ids: set[str] = set()
        for failure in failures:
            identifier = (
                failure.get("itemIdentifier") if isinstance(failure, dict) else None
            )
            if not identifier or identifier not in all_ids:
                # Lambda treats a missing or unknown itemIdentifier as a failure of
                # the whole batch.
                logger.error(
                    "handler %s returned an invalid batchItemFailures entry; "
                    "keeping the whole batch",
                    self._function_name,
                )
                return all_ids
            failed_ids.add(identifier)
        return failed_ids

    def _delete(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        entries = [
            {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
            for index, record in enumerate(records)
        ]
        result = self._client.delete_message_batch(
            QueueUrl=self.queue_url, Entries=entries
        )
        for failure in result.get("Failed", []):
            logger.error(
                "delete failed for message_id=%s: %s",
                records[int(failure["Id"])]["messageId"],
                failure.get("Message", failure.get("Code")),
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def _check_visibility_timeout(self, configured: int) -> None:
        if configured != self._visibility_timeout:
            logger.warning(
                "queue %s has VisibilityTimeout=%d but the event source expected %d; "
                "the queue's value decides when a failed message returns",
                self.queue_url,
                configured,
                self._visibility_timeout,
            )
            self._visibility_timeout = configured

    def _check_redrive_policy(self, raw_policy: str | None) -> None:
        if not raw_policy:
            logger.warning(
                "queue %s has no redrive policy; a failing message is retried until "
                "its retention period ends",
                self.queue_url,
            )
            return
        policy = json.loads(raw_policy)
        configured = int(policy.get("maxReceiveCount", 0))
        if configured != self._max_receive_count:
            logger.warning(
                "queue %s has maxReceiveCount=%d but the event source expected %d; "
                "the queue's value decides when a message moves to the DLQ",
                self.queue_url,
                configured,
                self._max_receive_count,
            )
            self._max_receive_count = configured


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """Convert a ReceiveMessage attribute to the camel-case shape of Lambda events."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary else None,
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [
            base64.b64encode(item).decode()
            for item in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType"),
    }


def load_handler(
    path: Path, module_name: str, attribute: str = "lambda_handler"
) -> LambdaHandler:
    """Import a function's handler file as ``module_name`` and return the handler.

    Lambda imports ``handler.py`` as the top-level module ``handler``; locally
    several functions have that file name, so each gets its own module name.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import a handler from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def start_sqs_event_source(
    queue_url: str,
    handler: LambdaHandler,
    *,
    batch_size: int = 10,
    visibility_timeout: int = 30,
    max_receive_count: int = 3,
    wait_seconds: int = 1,
) -> SqsEventSource:
    """Start polling ``queue_url`` in a daemon thread; call ``.stop()`` to end it."""
    source = SqsEventSource(
        queue_url,
        handler,
        batch_size=batch_size,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
        wait_seconds=wait_seconds,
    )
    return source.start()
