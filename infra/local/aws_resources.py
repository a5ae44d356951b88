"""Create the SQS queues and the Secrets Manager secret on the moto server."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import boto3

logger = logging.getLogger(__name__)

EVENTS_QUEUE_NAME = "triage-patient-events"
DEAD_LETTER_QUEUE_NAME = "triage-patient-events-dlq"
JWT_SECRET_NAME = "triage/jwt-signing-key"  # noqa: S105 - a name, not a value
MAX_RECEIVE_COUNT = 3
# Seconds a received message stays hidden; long enough for the notify function
# to finish a batch before SQS hands the message out again.
VISIBILITY_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class AwsResources:
    """Identifiers of what ``create_resources`` made."""

    events_queue_url: str
    events_queue_arn: str
    dead_letter_queue_url: str
    jwt_secret_arn: str


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    )


def create_resources(endpoint_url: str, region: str, jwt_key: str) -> AwsResources:
    """Create the events queue with its dead-letter queue and the JWT secret.

    Safe to call against a server that already has them: queues are created
    idempotently and the secret value is overwritten with ``jwt_key``.
    """
    sqs = _client("sqs", endpoint_url, region)
    dlq_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE_NAME)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    queue_url = sqs.create_queue(
        QueueName=EVENTS_QUEUE_NAME,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    secrets = _client("secretsmanager", endpoint_url, region)
    try:
        secret_arn = secrets.create_secret(Name=JWT_SECRET_NAME, SecretString=jwt_key)[
            "ARN"
        ]
    except secrets.exceptions.ResourceExistsException:
        secret_arn = secrets.put_secret_value(
            SecretId=JWT_SECRET_NAME, SecretString=jwt_key
        )["ARN"]
    logger.info("created queue %s, dead-letter queue and secret", EVENTS_QUEUE_NAME)
    return AwsResources(queue_url, queue_arn, dlq_url, secret_arn)
