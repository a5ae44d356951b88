"""`chalice package` of functions/api merged with infra/chalice-extras.yaml.

The package step runs offline in a copy of functions/api (the app imports the layer
from PYTHONPATH, and requirements.txt has nothing to download). The merged SAM
template then has to pass ``sam validate --lint`` and cfn-lint like template.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
API_DIR = REPO / "functions" / "api"
CONFIG = API_DIR / ".chalice" / "config.json"
EXTRAS = REPO / "infra" / "chalice-extras.yaml"
BIN = Path(sys.executable).parent
CHALICE_FUNCTIONS = (
    "APIHandler",
    "WebsocketConnect",
    "WebsocketMessage",
    "WebsocketDisconnect",
)

pytestmark = pytest.mark.skipif(
    not (API_DIR / "app.py").is_file(),
    reason="functions/api/app.py does not exist yet, so there is nothing to package",
)


def _aws_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `chalice package --merge-template` into <tmp>/build/chalice."""
    root = tmp_path_factory.mktemp("chalice")
    project = root / "functions" / "api"
    shutil.copytree(
        API_DIR,
        project,
        ignore=shutil.ignore_patterns("__pycache__", "deployments", "deployed"),
    )
    out = root / "build" / "chalice"
    result = subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--pkg-format",
            "cloudformation",
            "--template-format",
            "yaml",
            "--merge-template",
            str(EXTRAS),
            "--stage",
            "dev",
            str(out),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=_aws_env(PYTHONPATH=str(REPO / "layers" / "triage_core")),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def merged(package_dir: Path) -> dict[str, Any]:
    return cfn_yaml.loads((package_dir / "sam.yaml").read_text(encoding="utf-8"))


def test_config_declares_both_stages() -> None:
    config = json.loads(CONFIG.read_text(encoding="utf-8"))

    assert config["app_name"] == "triage-api"
    assert config["automatic_layer"] is False
    assert set(config["stages"]) == {"dev", "prod"}
    for name, stage in config["stages"].items():
        assert stage["api_gateway_stage"] == name
        assert stage["layers"] == []


def test_config_variables_are_documented() -> None:
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    documented = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}
    variables = set(config["environment_variables"])
    for stage in config["stages"].values():
        variables |= set(stage.get("environment_variables", {}))

    for variable in variables - powertools:
        assert f"`{variable}`" in documented, variable


def test_package_zip_has_app_not_layer(package_dir: Path) -> None:
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        names = set(archive.namelist())

    assert "app.py" in names
    assert "chalicelib/websocket_routes.py" in names
    assert "chalice/app.py" in names
    assert not any(name.startswith("triage_core/") for name in names)


def test_merged_template_passes_sam_validate(package_dir: Path) -> None:
    result = subprocess.run(
        [str(BIN / "sam"), "validate", "--lint", "--template", "sam.yaml"],
        cwd=package_dir,
        capture_output=True,
        text=True,
        timeout=180,
        env=_aws_env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_merged_template_passes_cfn_lint(package_dir: Path) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "sam.yaml"],
        cwd=package_dir,
        capture_output=True,
        text=True,
        timeout=180,
        env=_aws_env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_chalice_functions_get_layer_and_refs(merged: dict[str, Any]) -> None:
    resources = merged["Resources"]
    for name in CHALICE_FUNCTIONS:
        properties = resources[name]["Properties"]
        variables = properties["Environment"]["Variables"]

        assert properties["Layers"] == [{"Ref": "TriageCoreLayer"}], name
        assert variables["MONGODB_URI_SECRET_ARN"] == {"Ref": "MongoDbUriSecret"}, name
        assert variables["MONGODB_DB"] == {"Ref": "MongoDbName"}, name
    api = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["PREDICT_FUNCTION_NAME"] == {"Ref": "PredictFunction"}
    assert api["EVENTS_QUEUE_URL"] == {"Ref": "EventsQueue"}
    assert api["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


def test_merged_handlers_are_app_attributes(merged: dict[str, Any]) -> None:
    handlers = [
        merged["Resources"][name]["Properties"]["Handler"] for name in CHALICE_FUNCTIONS
    ]
    attributes = [handler.removeprefix("app.") for handler in handlers]
    script = (
        "import app, sys; "
        f"names = {attributes!r}; "
        "missing = [n for n in names if not callable(getattr(app, n, None))]; "
        "print(missing); sys.exit(1 if missing else 0)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=API_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(API_DIR), str(REPO / "layers/triage_core")]
            ),
        },
    )

    assert all(handler.startswith("app.") for handler in handlers)
    assert result.returncode == 0, result.stdout + result.stderr


def test_extras_paths_resolve_from_build_dir(merged: dict[str, Any]) -> None:
    resources = merged["Resources"]
    build_dir = REPO / "build" / "chalice"
    layer = build_dir / resources["TriageCoreLayer"]["Properties"]["ContentUri"]
    notify = build_dir / resources["NotifyFunction"]["Properties"]["CodeUri"]
    rescore = build_dir / resources["RescoreFunction"]["Properties"]["CodeUri"]
    image = resources["PredictFunction"]["Metadata"]

    assert (layer.resolve() / "requirements.txt").is_file()
    assert (notify.resolve() / "handler.py").is_file()
    assert (rescore.resolve() / "handler.py").is_file()
    assert ((build_dir / image["DockerContext"]).resolve() / "Dockerfile").is_file()


def test_default_role_scoped_to_stack(merged: dict[str, Any]) -> None:
    statements = merged["Resources"]["DefaultRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}

    assert set(by_sid) == {
        "WriteLogs",
        "WriteTraces",
        "ReadSecrets",
        "PublishEvents",
        "InvokePrediction",
        "ReplyToConnections",
    }
    for sid, statement in by_sid.items():
        if sid != "WriteTraces":
            assert statement["Resource"] != "*", sid
    assert (
        "${WebsocketAPI}/*/POST/@connections/*"
        in by_sid["ReplyToConnections"]["Resource"]["Fn::Sub"]
    )
    assert by_sid["InvokePrediction"]["Resource"] == {
        "Fn::GetAtt": ["PredictFunction", "Arn"]
    }


def test_notify_mapping_reports_item_failures(merged: dict[str, Any]) -> None:
    mapping = merged["Resources"]["NotifyEventSource"]["Properties"]
    queue = merged["Resources"]["EventsQueue"]["Properties"]

    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
