"""Create the SQS queues and the Secrets Manager secret on the moto server.

Queue names and redrive settings match the compose stack's LocalStack init
script and template.yaml, so the three modes behave alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import boto3

logger = logging.getLogger(__name__)

JWT_SECRET_NAME = "triage/jwt-signing-key"  # noqa: S105 - a name, not a value


@dataclass(frozen=True)
class QueueSpec:
    """A queue with its dead-letter queue.

    ``visibility_timeout`` is the seconds a received message stays hidden, so it
    must exceed the consuming function's run time. ``max_receive_count`` is the
    number of receives before SQS moves a message to the dead-letter queue.
    """

    name: str
    dead_letter_name: str
    max_receive_count: int
    visibility_timeout: int


EVENTS_QUEUE = QueueSpec("triage-patient-events", "triage-patient-events-dlq", 3, 60)
RESCORE_QUEUE = QueueSpec("triage-rescore", "triage-rescore-dlq", 6, 180)


@dataclass(frozen=True)
class AwsResources:
    """Identifiers of what ``create_resources`` made."""

    events_queue_url: str
    dead_letter_queue_url: str
    rescore_queue_url: str
    rescore_dead_letter_queue_url: str
    jwt_secret_arn: str


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    )


def _create_queue(sqs: Any, spec: QueueSpec) -> tuple[str, str]:
    """Create ``spec``'s dead-letter queue, then the queue; return both URLs."""
    dlq_url = sqs.create_queue(QueueName=spec.dead_letter_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count,
    }
    queue_url = sqs.create_queue(
        QueueName=spec.name,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(spec.visibility_timeout),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def create_resources(endpoint_url: str, region: str, jwt_key: str) -> AwsResources:
    """Create the events and rescore queues, their dead-letter queues and the secret.

    Safe to call against a server that already has them: queues are created
    idempotently and the secret value is overwritten with ``jwt_key``.
    """
    sqs = _client("sqs", endpoint_url, region)
    events_url, events_dlq_url = _create_queue(sqs, EVENTS_QUEUE)
    rescore_url, rescore_dlq_url = _create_queue(sqs, RESCORE_QUEUE)

    secrets = _client("secretsmanager", endpoint_url, region)
    try:
        secret_arn = secrets.create_secret(Name=JWT_SECRET_NAME, SecretString=jwt_key)[
            "ARN"
        ]
    except secrets.exceptions.ResourceExistsException:
        secret_arn = secrets.put_secret_value(
            SecretId=JWT_SECRET_NAME, SecretString=jwt_key
        )["ARN"]
    logger.info(
        "created queues %s, %s and their DLQs", EVENTS_QUEUE.name, RESCORE_QUEUE.name
    )
    return AwsResources(
        events_url, events_dlq_url, rescore_url, rescore_dlq_url, secret_arn
    )
