"""template.yaml: SAM validation, cfn-lint and the rules the stack must keep.

Everything runs offline: ``sam validate --lint`` and cfn-lint transform the template
locally, and dummy credentials keep the SAM CLI from looking for real ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
BIN = Path(sys.executable).parent
ZIP_FUNCTIONS = (
    "ApiFunction",
    "WsConnectFunction",
    "WsMessageFunction",
    "WsDisconnectFunction",
    "NotifyFunction",
    "RescoreFunction",
)
ALL_FUNCTIONS = (*ZIP_FUNCTIONS, "PredictFunction")


def offline_aws_env() -> dict[str, str]:
    """Environment for the AWS tools: a region, dummy keys, no telemetry."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
    }


def sam_validate(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sam"), "validate", "--lint", "--template", str(template)],
        capture_output=True,
        text=True,
        timeout=180,
        env=offline_aws_env(),
        cwd=template.parent,
    )


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.loads(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in function["Properties"].get("Policies", [])
        if "Statement" in policy
        for statement in policy["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_sam_validate_lint_passes() -> None:
    result = sam_validate(TEMPLATE)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=180,
        env=offline_aws_env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_rejects_dangling_ref(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text(encoding="utf-8")
    broken.write_text(
        text.replace(
            "DeploymentId: !Ref WebSocketDeployment", "DeploymentId: !Ref Nope"
        )
    )

    result = sam_validate(broken)

    assert result.returncode != 0
    assert "Nope" in result.stdout + result.stderr


def test_parameters_stage_and_secret_uri(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]

    assert parameters["Stage"]["AllowedValues"] == ["dev", "prod"]
    assert parameters["MongoDbAtlasUri"]["NoEcho"] is True
    assert parameters["BootstrapAdminPassword"]["NoEcho"] is True


def test_outputs_name_the_three_urls(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert outputs["RestApiUrl"]["Value"]["Fn::Sub"].startswith("https://${RestApi}")
    assert outputs["WebSocketUrl"]["Value"]["Fn::Sub"].startswith(
        "wss://${WebSocketApi}"
    )
    assert outputs["FrontendUrl"]["Value"]["Fn::Sub"].startswith("https://")


def test_websocket_api_routes(resources: dict[str, Any]) -> None:
    api = resources["WebSocketApi"]["Properties"]
    routes = {
        spec["Properties"]["RouteKey"]: spec["Properties"]
        for spec in resources.values()
        if spec["Type"] == "AWS::ApiGatewayV2::Route"
    }

    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert set(routes) == {"$connect", "$default", "$disconnect"}
    for key, route in routes.items():
        integration = route["Target"]["Fn::Sub"].removeprefix("integrations/${")
        integration = integration.rstrip("}")
        assert resources[integration]["Type"] == "AWS::ApiGatewayV2::Integration", key
    assert resources["WebSocketStage"]["Properties"]["StageName"] == {"Ref": "Stage"}
    assert set(resources["WebSocketDeployment"]["DependsOn"]) == {
        "WsConnectRoute",
        "WsDefaultRoute",
        "WsDisconnectRoute",
    }


def test_rest_routes_match_chalice_app(resources: dict[str, Any]) -> None:
    if not (REPO / "functions" / "api" / "app.py").is_file():
        pytest.skip("functions/api/app.py does not exist yet")
    sys.path[:0] = [str(REPO / "functions" / "api"), str(REPO / "layers/triage_core")]
    import app  # noqa: PLC0415 - the Chalice app needs the paths above

    declared = {
        (event["Properties"]["Path"], event["Properties"]["Method"])
        for event in resources["ApiFunction"]["Properties"]["Events"].values()
    }
    registered = {
        (path, method) for path, entries in app.app.routes.items() for method in entries
    }

    assert declared == registered


@pytest.mark.parametrize("name", ZIP_FUNCTIONS)
def test_handler_is_module_attribute(resources: dict[str, Any], name: str) -> None:
    properties = resources[name]["Properties"]
    code_dir = REPO / properties["CodeUri"]
    module_name, _, attribute = properties["Handler"].rpartition(".")
    if not (code_dir / f"{module_name}.py").is_file():
        pytest.skip(f"{code_dir / module_name}.py does not exist yet")
    script = (
        "import importlib, sys; "
        f"module = importlib.import_module({module_name!r}); "
        f"sys.exit(0 if callable(getattr(module, {attribute!r}, None)) else 3)"
    )
    pythonpath = [code_dir, REPO / "layers" / "triage_core"]

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=code_dir,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))},
    )

    assert result.returncode == 0, f"{properties['Handler']}: {result.stderr[-2000:]}"


def test_notify_event_source_reports_item_failures(resources: dict[str, Any]) -> None:
    mapping = resources["NotifyEventSource"]["Properties"]
    queue = resources["EventsQueue"]["Properties"]

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert mapping["FunctionName"] == {"Ref": "NotifyFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert (
        queue["VisibilityTimeout"]
        >= 6 * resources["NotifyFunction"]["Properties"]["Timeout"]
    )


def test_predict_function_is_built_image(resources: dict[str, Any]) -> None:
    function = resources["PredictFunction"]
    metadata = function["Metadata"]

    assert function["Properties"]["PackageType"] == "Image"
    assert (REPO / metadata["DockerContext"] / metadata["Dockerfile"]).is_file()
    assert metadata["DockerTag"]


def test_layer_builds_triage_core(resources: dict[str, Any]) -> None:
    layer = resources["TriageCoreLayer"]
    content = REPO / layer["Properties"]["ContentUri"]

    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert (content / "requirements.txt").is_file()
    assert (content / "triage_core" / "__init__.py").is_file()
    for name in ZIP_FUNCTIONS:
        layers = resources[name]["Properties"]["Layers"]
        assert layers[0] == {"Ref": "TriageCoreLayer"}, name


def test_chalice_functions_get_runtime_layer(resources: dict[str, Any]) -> None:
    layer = resources["ChaliceRuntimeLayer"]
    makefile = REPO / layer["Properties"]["ContentUri"] / "Makefile"

    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-ChaliceRuntimeLayer:" in makefile.read_text(encoding="utf-8")
    for name in ZIP_FUNCTIONS:
        layers = resources[name]["Properties"]["Layers"]
        uses_chalice = resources[name]["Properties"]["CodeUri"] == "functions/api"
        assert ({"Ref": "ChaliceRuntimeLayer"} in layers) is uses_chalice, name


def test_chalice_runtime_needs_only_stdlib(tmp_path: Path) -> None:
    # GIVEN only chalice/__init__.py and chalice/app.py, as the runtime layer has them
    import chalice  # noqa: PLC0415 - only the installed file locations are needed

    package = tmp_path / "chalice"
    package.mkdir()
    source = Path(chalice.__file__).parent
    for name in ("__init__.py", "app.py"):
        shutil.copy(source / name, package / name)

    # WHEN Python starts without site-packages and imports it
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import chalice; print(chalice.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path)},
    )

    # THEN the import succeeds with the version the Makefile installs
    assert result.returncode == 0, result.stderr
    makefile = (REPO / "infra" / "chalice-runtime" / "Makefile").read_text()
    assert f"CHALICE_VERSION := {result.stdout.strip()}" in makefile


def test_no_statement_allows_every_resource(resources: dict[str, Any]) -> None:
    for name in ALL_FUNCTIONS:
        for statement in _statements(resources[name]):
            assert "*" not in _as_list(statement["Resource"]), (name, statement)


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("sqs:SendMessage", {"EventsQueue", "RescoreQueue"}),
        ("lambda:InvokeFunction", {"PredictFunction"}),
        ("secretsmanager:GetSecretValue", {"MongoDbUriSecret", "JwtSigningKeySecret"}),
        ("execute-api:ManageConnections", {"WebSocketApi"}),
    ],
)
def test_actions_scoped_to_own_resources(
    resources: dict[str, Any], action: str, allowed: set[str]
) -> None:
    seen = 0
    for name in ALL_FUNCTIONS:
        for statement in _statements(resources[name]):
            if statement["Action"] != action:
                continue
            seen += 1
            for resource in _as_list(statement["Resource"]):
                if "Fn::Sub" in resource:
                    text = resource["Fn::Sub"]
                    assert text.endswith("${WebSocketApi}/${Stage}/POST/@connections/*")
                    continue
                # cfn-lint does not check references inside SAM policy statements.
                target = resource.get("Ref") or resource["Fn::GetAtt"][0]
                assert target in allowed, (name, resource)
                assert target in resources, (name, resource)
    assert seen >= 1


def test_each_function_logs_to_retained_group(resources: dict[str, Any]) -> None:
    for name in ALL_FUNCTIONS:
        logging_config = resources[name]["Properties"]["LoggingConfig"]
        group = resources[logging_config["LogGroup"]["Ref"]]

        assert group["Type"] == "AWS::Logs::LogGroup", name
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_alarms_cover_errors_and_dead_letters(resources: dict[str, Any]) -> None:
    alarms = [
        spec for spec in resources.values() if spec["Type"] == "AWS::CloudWatch::Alarm"
    ]
    watched = set()
    for alarm in alarms:
        properties = alarm["Properties"]
        metrics = [properties] + [
            query["MetricStat"]["Metric"]
            for query in properties.get("Metrics", [])
            if "MetricStat" in query
        ]
        for metric in metrics:
            for dimension in metric.get("Dimensions", []):
                value = dimension["Value"]
                if isinstance(value, str):
                    # A literal dimension, such as the service of a custom metric.
                    watched.add(f"{metric.get('MetricName')}:{value}")
                    continue
                watched.add(value.get("Ref") or value["Fn::GetAtt"][0])

    assert set(ALL_FUNCTIONS) <= watched
    assert {"EventsDeadLetterQueue", "RescoreDeadLetterQueue"} <= watched
    assert {
        "PredictionLatency:triage-api",
        "PredictionsPending:triage-api",
    } <= watched


def test_frontend_bucket_private_and_encrypted(resources: dict[str, Any]) -> None:
    bucket = resources["FrontendBucket"]["Properties"]
    block = bucket["PublicAccessBlockConfiguration"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]

    assert all(block[key] is True for key in block)
    assert len(block) == 4
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_cloudfront_reads_bucket_through_oac(resources: dict[str, Any]) -> None:
    config = resources["FrontendDistribution"]["Properties"]["DistributionConfig"]
    origin = config["Origins"][0]
    statement = resources["FrontendBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]

    assert origin["OriginAccessControlId"] == {
        "Fn::GetAtt": ["FrontendOriginAccessControl", "Id"]
    }
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert (
        "${FrontendDistribution}"
        in statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    )


def test_gateway_errors_use_the_api_error_shape(resources: dict[str, Any]) -> None:
    responses = {
        spec["Properties"]["ResponseType"]: spec["Properties"]
        for spec in resources.values()
        if spec["Type"] == "AWS::ApiGateway::GatewayResponse"
    }
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["REQUEST_TOO_LARGE"]["StatusCode"] == "413"
    for response_type in (
        "MISSING_AUTHENTICATION_TOKEN",
        "REQUEST_TOO_LARGE",
        "INTEGRATION_TIMEOUT",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ):
        template = responses[response_type]["ResponseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "')
        assert '"field": null' in template
