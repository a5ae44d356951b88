#!/usr/bin/env bash
# Create the AWS resources of the compose stack inside LocalStack: the patient
# events and rescore queues with their dead-letter queues, and two Secrets Manager
# secrets. LocalStack runs this once it is ready. The last step writes a marker file
# that the compose health check waits for, so the api service starts only after
# every resource exists. Queue names, redrive counts, visibility timeouts and the
# JWT secret name equal those of infra/local/aws_resources.py (embedded mode).
set -euo pipefail

EVENTS_QUEUE_NAME="triage-patient-events"
DEAD_LETTER_QUEUE_NAME="triage-patient-events-dlq"
MAX_RECEIVE_COUNT=3
# Seconds a received message stays hidden; above the notify function's timeout.
VISIBILITY_TIMEOUT_SECONDS=60
# The rescore queue matches template.yaml: six receives, hidden for 180 seconds.
RESCORE_QUEUE_NAME="triage-rescore"
RESCORE_DEAD_LETTER_QUEUE_NAME="triage-rescore-dlq"
RESCORE_MAX_RECEIVE_COUNT=6
RESCORE_VISIBILITY_TIMEOUT_SECONDS=180
JWT_SECRET_NAME="triage/jwt-signing-key"
MONGODB_URI_SECRET_NAME="triage/mongodb-uri"
# Tests point TRIAGE_READY_MARKER elsewhere; compose leaves it unset.
READY_MARKER="${TRIAGE_READY_MARKER:-/tmp/triage-init-done}"

rm -f "${READY_MARKER}"
# Checked before any resource exists, so a missing value leaves nothing half made.
mongodb_uri="${TRIAGE_MONGODB_URI:?set TRIAGE_MONGODB_URI on the localstack service}"

# Create queue $1 whose messages move to dead-letter queue $2 after $3 receives;
# $4 is the visibility timeout in seconds.
create_queue_with_dlq() {
    local name="$1" dlq_name="$2" max_receive_count="$3" visibility_timeout="$4"
    local dlq_url dlq_arn attributes
    dlq_url=$(awslocal sqs create-queue --queue-name "${dlq_name}" \
        --query QueueUrl --output text)
    dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "${dlq_url}" \
        --attribute-names QueueArn --query Attributes.QueueArn --output text)
    attributes=$(python3 - "${dlq_arn}" "${max_receive_count}" "${visibility_timeout}" <<'PY'
import json
import sys

dlq_arn, max_receive_count, visibility_timeout = sys.argv[1:4]
redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": int(max_receive_count)}
print(json.dumps({"RedrivePolicy": json.dumps(redrive),
                  "VisibilityTimeout": visibility_timeout}))
PY
)
    awslocal sqs create-queue --queue-name "${name}" \
        --attributes "${attributes}" >/dev/null
}

create_queue_with_dlq "${EVENTS_QUEUE_NAME}" "${DEAD_LETTER_QUEUE_NAME}" \
    "${MAX_RECEIVE_COUNT}" "${VISIBILITY_TIMEOUT_SECONDS}"
create_queue_with_dlq "${RESCORE_QUEUE_NAME}" "${RESCORE_DEAD_LETTER_QUEUE_NAME}" \
    "${RESCORE_MAX_RECEIVE_COUNT}" "${RESCORE_VISIBILITY_TIMEOUT_SECONDS}"

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
put_secret "${MONGODB_URI_SECRET_NAME}" "${mongodb_uri}"

echo "triage init: created ${EVENTS_QUEUE_NAME}, ${RESCORE_QUEUE_NAME}," \
    "their dead-letter queues, ${JWT_SECRET_NAME} and ${MONGODB_URI_SECRET_NAME}"
touch "${READY_MARKER}"
