"""infra/localstack/init/ready.d/init.sh run against a moto server on loopback.

LocalStack and the AWS CLI are not installed here, so a small stand-in for
``awslocal`` translates the few CLI calls the script makes into boto3 calls to a
moto server. That checks the script's own logic (queue attributes, redrive JSON,
create-or-update of secrets, the marker file), not LocalStack or the real CLI.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
INIT_SCRIPT = REPO / "infra" / "localstack" / "init" / "ready.d" / "init.sh"
REGION = "us-east-1"

# The subset of `aws` that init.sh uses, with --query reduced to dotted paths.
AWSLOCAL_SHIM = """
import json, os, sys
import boto3

args = sys.argv[1:]
service, operation, rest = args[0], args[1], args[2:]
options = {}
key = None
for token in rest:
    if token.startswith("--"):
        key = token[2:]
        options[key] = True
    else:
        options[key] = token
client = boto3.client(service, endpoint_url=os.environ["SHIM_ENDPOINT"])
method = getattr(client, operation.replace("-", "_"))
names = {
    "queue-name": "QueueName", "queue-url": "QueueUrl", "secret-id": "SecretId",
    "name": "Name", "secret-string": "SecretString",
}
params = {names[k]: v for k, v in options.items() if k in names}
if "attributes" in options:
    params["Attributes"] = json.loads(options["attributes"])
if "attribute-names" in options:
    params["AttributeNames"] = [options["attribute-names"]]
try:
    response = method(**params)
except client.exceptions.ClientError as error:
    print(error, file=sys.stderr)
    sys.exit(254)
if "query" in options:
    for part in options["query"].split("."):
        response = response[part]
    print(response)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Iterator[str]:
    """Start a moto server process of its own, so no state leaks between tests."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (tmp_path / "moto.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "moto_server"),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"moto server did not start on {endpoint}; see {log.name}"
                    ) from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def shim_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    shim = directory / "awslocal"
    shim.write_text(f"#!{sys.executable}\n{AWSLOCAL_SHIM}", encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return directory


def _run_init(
    shim_dir: Path, endpoint: str, marker: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{shim_dir}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "SHIM_ENDPOINT": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TRIAGE_READY_MARKER": str(marker),
        "HOME": os.environ.get("HOME", "/tmp"),
        **extra,
    }
    return subprocess.run(
        ["bash", str(INIT_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _redrive(sqs: Any, queue_name: str) -> tuple[dict[str, Any], str]:
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return json.loads(attributes["RedrivePolicy"]), attributes["VisibilityTimeout"]


def test_init_creates_then_updates_resources(
    shim_dir: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ready"
    sqs = _client("sqs", moto_endpoint)
    secrets = _client("secretsmanager", moto_endpoint)

    first = _run_init(shim_dir, moto_endpoint, marker, TRIAGE_MONGODB_URI="mongodb://a")

    assert first.returncode == 0, first.stderr
    assert marker.is_file()
    events_redrive, events_visibility = _redrive(sqs, "triage-patient-events")
    rescore_redrive, rescore_visibility = _redrive(sqs, "triage-rescore")
    assert events_redrive["deadLetterTargetArn"].endswith(":triage-patient-events-dlq")
    assert int(events_redrive["maxReceiveCount"]) == 3
    assert events_visibility == "60"
    assert rescore_redrive["deadLetterTargetArn"].endswith(":triage-rescore-dlq")
    assert int(rescore_redrive["maxReceiveCount"]) == 6
    assert rescore_visibility == "180"
    first_uri = secrets.get_secret_value(SecretId="triage/mongodb-uri")
    first_key = secrets.get_secret_value(SecretId="triage/jwt-signing-key")
    assert first_uri["SecretString"] == "mongodb://a"
    assert len(first_key["SecretString"].encode()) >= 32

    # A second start (LocalStack with persistence) replaces both secret values.
    second = _run_init(
        shim_dir, moto_endpoint, marker, TRIAGE_MONGODB_URI="mongodb://b"
    )

    assert second.returncode == 0, second.stderr
    second_uri = secrets.get_secret_value(SecretId="triage/mongodb-uri")
    second_key = secrets.get_secret_value(SecretId="triage/jwt-signing-key")
    assert second_uri["SecretString"] == "mongodb://b"
    assert second_key["SecretString"] != first_key["SecretString"]


def test_init_fails_without_mongodb_uri(
    shim_dir: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ready"

    result = _run_init(shim_dir, moto_endpoint, marker)

    assert result.returncode != 0
    assert "TRIAGE_MONGODB_URI" in result.stderr
    assert not marker.exists()
    assert _client("sqs", moto_endpoint).list_queues().get("QueueUrls", []) == []
