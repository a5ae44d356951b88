#!/usr/bin/env bash
# Create the AWS resources of the compose stack inside LocalStack: the patient events
# queue with its dead-letter queue, and the two Secrets Manager secrets. LocalStack
# runs this once it is ready. The last step writes a marker file that the compose
# health check waits for, so the api service starts only after every resource exists.
# The names equal those in infra/local/aws_resources.py (embedded mode).
set -euo pipefail

EVENTS_QUEUE_NAME="triage-patient-events"
DEAD_LETTER_QUEUE_NAME="triage-patient-events-dlq"
MAX_RECEIVE_COUNT=3
# Seconds a received message stays hidden; above the notify function's timeout.
VISIBILITY_TIMEOUT_SECONDS=60
JWT_SECRET_NAME="triage/jwt-signing-key"
MONGODB_URI_SECRET_NAME="triage/mongodb-uri"
READY_MARKER="/tmp/triage-init-done"

rm -f "${READY_MARKER}"

dlq_url=$(awslocal sqs create-queue --queue-name "${DEAD_LETTER_QUEUE_NAME}" \
    --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "${dlq_url}" \
    --attribute-names QueueArn --query Attributes.QueueArn --output text)

attributes=$(python3 - "${dlq_arn}" "${MAX_RECEIVE_COUNT}" "${VISIBILITY_TIMEOUT_SECONDS}" <<'PY'
import json
import sys

dlq_arn, max_receive_count, visibility_timeout = sys.argv[1:4]
redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": int(max_receive_count)}
print(json.dumps({"RedrivePolicy": json.dumps(redrive),
                  "VisibilityTimeout": visibility_timeout}))
PY
)
awslocal sqs create-queue --queue-name "${EVENTS_QUEUE_NAME}" \
    --attributes "${attributes}" >/dev/null

# Create a secret, or replace its value when it exists (LocalStack with persistence).
put_secret() {
    local name="$1" value="$2"
    if awslocal secretsmanager describe-secret --secret-id "${name}" >/dev/null 2>&1; then
        awslocal secretsmanager put-secret-value --secret-id "${name}" \
            --secret-string "${value}" >/dev/null
    else
        awslocal secretsmanager create-secret --name "${name}" \
            --secret-string "${value}" >/dev/null
    fi
}

# A fresh random signing key on every start, so local tokens never outlive the stack.
jwt_key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
put_secret "${JWT_SECRET_NAME}" "${jwt_key}"
put_secret "${MONGODB_URI_SECRET_NAME}" "${TRIAGE_MONGODB_URI:?set TRIAGE_MONGODB_URI on the localstack service}"

echo "triage init: created ${EVENTS_QUEUE_NAME}, ${DEAD_LETTER_QUEUE_NAME}," \
    "${JWT_SECRET_NAME} and ${MONGODB_URI_SECRET_NAME}"
touch "${READY_MARKER}"
