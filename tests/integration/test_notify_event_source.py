"""The SQS event source builds Lambda SQS events and honours batchItemFailures.

Runs against the moto server on loopback; the handler is a plain function so
each test controls which records fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.event_source import SqsEventSource
from infra.local.services import (
    find_free_port,
    http_probe,
    start_process,
    stop_process,
    wait_until_healthy,
)

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sqs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("moto")
    port = find_free_port()
    child = start_process(
        "moto",
        [".venv/bin/moto_server", "-H", "127.0.0.1", "-p", str(port)],
        tmp / "moto.log",
    )
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        try:
            wait_until_healthy("moto", http_probe(url + "/moto-api/"), 20, child)
            yield boto3.client("sqs")
        finally:
            stop_process(child)


def _queues(
    sqs: Any, name: str, max_receive_count: int, visibility_timeout: int = 1
) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "RedrivePolicy": json.dumps(policy),
            "VisibilityTimeout": str(visibility_timeout),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


class RecordingHandler:
    """Lambda handler that records batches and fails the records with given bodies."""

    def __init__(self, fail_bodies: set[str], result: Any = None) -> None:
        self.fail_bodies = fail_bodies
        self.result = result
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append(event["Records"])
        if self.result is not None:
            return self.result
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"] in self.fail_bodies
            ]
        }


def _count(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_record_has_lambda_sqs_shape(sqs: Any) -> None:
    queue_url, _ = _queues(sqs, "shape", max_receive_count=3)
    sent = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody='{"n": 1}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    handler = RecordingHandler(set())
    source = SqsEventSource(queue_url, handler, visibility_timeout=1, wait_seconds=1)
    source.load_queue_attributes()
    assert source.poll_once() == 1
    record = handler.batches[0][0]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"n": 1}'
    assert record["receiptHandle"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert _count(sqs, queue_url) == 0


def test_failed_record_retried_then_dead_lettered(sqs: Any) -> None:
    queue_url, dlq_url = _queues(sqs, "partial", max_receive_count=2)
    for body in ("ok-1", "bad", "ok-2"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    handler = RecordingHandler({"bad"})
    source = SqsEventSource(queue_url, handler, visibility_timeout=1, wait_seconds=1)
    source.load_queue_attributes()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        source.poll_once()
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)
        if dead.get("Messages"):
            break
    assert [m["Body"] for m in dead["Messages"]] == ["bad"]
    bodies = [record["body"] for batch in handler.batches for record in batch]
    assert sorted(bodies.count(b) for b in ("ok-1", "ok-2")) == [1, 1]
    assert bodies.count("bad") == 2
    counts = [
        record["attributes"]["ApproximateReceiveCount"]
        for batch in handler.batches
        for record in batch
        if record["body"] == "bad"
    ]
    assert counts == ["1", "2"]
    assert _count(sqs, queue_url) == 0


@pytest.mark.parametrize(
    "result",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
    ],
)
def test_invalid_failure_keeps_whole_batch(sqs: Any, result: dict[str, Any]) -> None:
    queue_url, _ = _queues(
        sqs, f"invalid-{len(str(result))}", max_receive_count=5, visibility_timeout=30
    )
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    handler = RecordingHandler(set(), result=result)
    source = SqsEventSource(queue_url, handler, visibility_timeout=30, wait_seconds=1)
    source.load_queue_attributes()
    assert source.poll_once() == 2
    assert len(handler.batches) == 1
    assert _count(sqs, queue_url) == 2


def test_handler_exception_keeps_whole_batch(sqs: Any) -> None:
    queue_url, _ = _queues(sqs, "raising", max_receive_count=5, visibility_timeout=30)
    sqs.send_message(QueueUrl=queue_url, MessageBody="boom")

    def failing(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("handler failure requested by the test")

    source = SqsEventSource(queue_url, failing, visibility_timeout=30, wait_seconds=1)
    source.load_queue_attributes()
    assert source.poll_once() == 1
    assert _count(sqs, queue_url) == 1
