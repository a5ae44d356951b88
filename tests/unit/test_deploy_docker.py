"""Dockerfiles, .dockerignore files, the nginx config and the LocalStack init script.

Linters only: hadolint and shellcheck come from PyPI wheels, nginx from Debian's
package (the nginx test is skipped without it). No image is built here.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = {
    "ml": REPO / "ml_container" / "Dockerfile",
    "api": REPO / "infra" / "docker" / "api.Dockerfile",
    "frontend": REPO / "infra" / "docker" / "frontend.Dockerfile",
}
NGINX_CONF = REPO / "infra" / "nginx" / "default.conf"
INIT_SCRIPT = REPO / "infra" / "localstack" / "init" / "ready.d" / "init.sh"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs with continuation lines joined."""
    joined = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    pairs = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def _values(dockerfile: Path, keyword: str) -> list[str]:
    return [args for key, args in _instructions(dockerfile) if key == keyword]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_passes(name: str) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_unpinned_base(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python\nRUN pip install requests\n")

    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "DL3006" in result.stdout


def test_ml_image_uses_lambda_base_and_handler() -> None:
    dockerfile = DOCKERFILES["ml"]

    assert _values(dockerfile, "FROM") == ["public.ecr.aws/lambda/python:3.12"]
    assert _values(dockerfile, "CMD") == ['["ml_container.predict.handler.handler"]']


def test_ml_image_layout_runs_handler(tmp_path: Path) -> None:
    # GIVEN the files laid out as the Dockerfile's COPY lines place them
    task_root = tmp_path / "task"
    for copy in _values(DOCKERFILES["ml"], "COPY"):
        source, target = copy.split()
        destination = Path(target.replace("${LAMBDA_TASK_ROOT}", str(task_root)))
        origin = REPO / "ml_container" / source
        if origin.is_dir():
            shutil.copytree(
                origin, destination, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(origin, destination)
    handler = json.loads(_values(DOCKERFILES["ml"], "CMD")[0])[0]
    module, _, function = handler.rpartition(".")
    script = (
        "import importlib, json; "
        f"handler = getattr(importlib.import_module({module!r}), {function!r}); "
        "print(json.dumps(handler({'action': 'health'}, None)))"
    )

    # WHEN the CMD handler runs with only the task root importable
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=task_root,
        env={"PYTHONPATH": str(task_root), "LAMBDA_TASK_ROOT": str(task_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    # THEN it loads the copied model files and reports healthy
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["status"] == "ok"
    assert body["model_version"].startswith("xgb-")


def test_ml_image_copies_model_read_only() -> None:
    dockerfile = DOCKERFILES["ml"]
    copies = _values(dockerfile, "COPY")
    runs = _values(dockerfile, "RUN")

    assert "model/ ${LAMBDA_TASK_ROOT}/model/" in copies
    assert any("chmod -R a=rX" in run and "/model" in run for run in runs)
    assert any("chmod -R a=rX" in run and "/ml_container" in run for run in runs)


@pytest.mark.parametrize(
    ("name", "context"),
    [("ml", REPO / "ml_container"), ("api", REPO), ("frontend", REPO)],
)
def test_copy_sources_in_build_context(name: str, context: Path) -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (context / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for copy in _values(DOCKERFILES[name], "COPY"):
        if copy.startswith("--from="):
            continue
        source = copy.split()[0].rstrip("/")

        assert (context / source).exists(), (name, source)
        for pattern in ignored:
            assert not fnmatch.fnmatch(source, pattern), (name, source, pattern)
            assert not source.startswith(pattern + "/"), (name, source, pattern)


def test_ml_requirements_pinned() -> None:
    lines = (REPO / "ml_container" / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]

    assert requirements
    for requirement in requirements:
        assert "==" in requirement, requirement


def test_api_image_multi_stage_non_root() -> None:
    dockerfile = DOCKERFILES["api"]
    bases = _values(dockerfile, "FROM")
    user = _values(dockerfile, "USER")

    assert bases == [
        "python:3.11-slim-bookworm AS build",
        "python:3.11-slim-bookworm AS runtime",
    ]
    assert user == ["10001:10001"]
    assert "--from=build /opt/venv /opt/venv" in _values(dockerfile, "COPY")


def test_api_image_runs_local_gateway() -> None:
    command = _values(DOCKERFILES["api"], "CMD")

    assert command == [
        '["python", "-m", "infra.local.serve", "--host", "0.0.0.0", "--port", "8000"]'
    ]


def test_frontend_image_unprivileged_nginx() -> None:
    dockerfile = DOCKERFILES["frontend"]

    assert _values(dockerfile, "FROM") == ["nginxinc/nginx-unprivileged:1.28.0-alpine"]
    assert _values(dockerfile, "USER") == []
    assert _values(dockerfile, "EXPOSE") == ["8080"]


@pytest.mark.parametrize(
    ("ignore_file", "patterns"),
    [
        (REPO / ".dockerignore", [".git", ".venv", "**/__pycache__", "tests"]),
        (REPO / "ml_container" / ".dockerignore", ["training/", "**/__pycache__"]),
    ],
)
def test_dockerignore_excludes(ignore_file: Path, patterns: list[str]) -> None:
    entries = ignore_file.read_text(encoding="utf-8").splitlines()

    for pattern in patterns:
        assert pattern in entries, pattern


def test_shellcheck_passes_init_script() -> None:
    result = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", str(INIT_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx missing: apt-get install nginx"
)
def test_nginx_config_syntax(tmp_path: Path) -> None:
    main_conf = tmp_path / "nginx.conf"
    main_conf.write_text(
        f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    include {NGINX_CONF};
}}
"""
    )

    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main_conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_config_routes() -> None:
    conf = NGINX_CONF.read_text(encoding="utf-8")

    assert "location = /health" in conf
    assert "location /api/" in conf
    assert "location = /ws" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "listen 8080;" in conf
