"""docker-compose.local.yml against the Compose Specification and our deployment rules.

No Docker engine is needed: the schema is the one bundled with check-jsonschema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.local.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
APP_SERVICES = ("frontend", "api", "ml")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_matches_compose_spec() -> None:
    result = _validate(COMPOSE_FILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_misspelled_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("    healthcheck:", "    healthchek:", 1))

    result = _validate(broken)

    assert result.returncode == 1
    assert "healthchek" in result.stdout + result.stderr


def test_services_are_the_five_expected(services: dict[str, Any]) -> None:
    assert set(services) == {"frontend", "api", "ml", "mongo", "localstack"}


def test_localstack_image_pinned(services: dict[str, Any]) -> None:
    assert services["localstack"]["image"] == "localstack/localstack:4.14.0"


def test_mongo_image_pinned_to_patch(services: dict[str, Any]) -> None:
    image = services["mongo"]["image"]
    name, _, tag = image.partition(":")

    assert name == "mongo"
    assert tag.count(".") == 2, image
    assert all(part.isdigit() for part in tag.split("."))


@pytest.mark.parametrize("name", ["frontend", "api", "ml", "mongo", "localstack"])
def test_service_has_healthcheck(services: dict[str, Any], name: str) -> None:
    test = services[name]["healthcheck"]["test"]

    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) >= 2


def test_mongo_healthcheck_pings_with_mongosh(services: dict[str, Any]) -> None:
    test = services["mongo"]["healthcheck"]["test"]

    assert test[1] == "mongosh"
    assert "ping" in test[-1]


@pytest.mark.parametrize(
    ("name", "dependencies"),
    [
        ("frontend", {"api"}),
        ("api", {"mongo", "localstack", "ml"}),
    ],
)
def test_depends_on_waits_for_healthy(
    services: dict[str, Any], name: str, dependencies: set[str]
) -> None:
    depends_on = services[name]["depends_on"]

    assert set(depends_on) == dependencies
    for dependency in dependencies:
        assert depends_on[dependency]["condition"] == "service_healthy", dependency


def test_ml_port_not_published(services: dict[str, Any]) -> None:
    ml = services["ml"]

    assert "ports" not in ml
    assert ml["expose"] == ["8080"]


def test_only_frontend_published_on_loopback(services: dict[str, Any]) -> None:
    published = {
        name: spec["ports"] for name, spec in services.items() if "ports" in spec
    }

    assert published == {"frontend": ["127.0.0.1:8080:8080"]}


@pytest.mark.parametrize(
    ("name", "cpus", "memory"),
    [("frontend", "0.5", "256M"), ("api", "1", "1G"), ("ml", "2", "3G")],
)
def test_resource_limits(
    services: dict[str, Any], name: str, cpus: str, memory: str
) -> None:
    limits = services[name]["deploy"]["resources"]["limits"]

    assert limits["cpus"] == cpus
    assert limits["memory"] == memory


def test_api_points_boto3_at_local_endpoints(services: dict[str, Any]) -> None:
    environment = services["api"]["environment"]

    assert environment["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert environment["AWS_ENDPOINT_URL_LAMBDA"] == "http://ml:8080"
    assert environment["PREDICT_FUNCTION_NAME"] == "function"
    assert environment["EVENTS_QUEUE_URL"].endswith("/triage-patient-events")
    assert environment["RESCORE_QUEUE_URL"].endswith("/triage-rescore")
    assert environment["MONGODB_URI_SECRET_ARN"] == "triage/mongodb-uri"
    assert environment["JWT_SECRET_ARN"] == "triage/jwt-signing-key"


def test_api_settings_are_documented(services: dict[str, Any]) -> None:
    documented = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    environment = services["api"]["environment"]
    boto3_variables = {
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }

    for variable in set(environment) - boto3_variables:
        assert f"`{variable}`" in documented, variable


def test_localstack_init_script_mounted(services: dict[str, Any]) -> None:
    volume = services["localstack"]["volumes"][0]
    source, target, mode = volume.split(":")
    script = REPO / source / "init.sh"

    assert target == "/etc/localstack/init/ready.d"
    assert mode == "ro"
    assert script.is_file()
    assert os.access(script, os.X_OK)


def test_localstack_init_names_match_embedded_mode() -> None:
    from infra.local.aws_resources import (  # noqa: PLC0415 - the embedded settings
        EVENTS_QUEUE,
        JWT_SECRET_NAME,
        RESCORE_QUEUE,
    )

    script = (REPO / "infra/localstack/init/ready.d/init.sh").read_text()
    expected = [
        f'EVENTS_QUEUE_NAME="{EVENTS_QUEUE.name}"',
        f'DEAD_LETTER_QUEUE_NAME="{EVENTS_QUEUE.dead_letter_name}"',
        f"MAX_RECEIVE_COUNT={EVENTS_QUEUE.max_receive_count}",
        f"VISIBILITY_TIMEOUT_SECONDS={EVENTS_QUEUE.visibility_timeout}",
        f'RESCORE_QUEUE_NAME="{RESCORE_QUEUE.name}"',
        f'RESCORE_DEAD_LETTER_QUEUE_NAME="{RESCORE_QUEUE.dead_letter_name}"',
        f"RESCORE_MAX_RECEIVE_COUNT={RESCORE_QUEUE.max_receive_count}",
        f"RESCORE_VISIBILITY_TIMEOUT_SECONDS={RESCORE_QUEUE.visibility_timeout}",
        f'JWT_SECRET_NAME="{JWT_SECRET_NAME}"',
        'MONGODB_URI_SECRET_NAME="triage/mongodb-uri"',
    ]

    for line in expected:
        assert line in script.splitlines(), line


@pytest.mark.parametrize("name", APP_SERVICES)
def test_build_dockerfile_exists(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]

    assert (REPO / build["context"] / build["dockerfile"]).is_file()
