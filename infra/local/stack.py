"""Start and stop the whole embedded system: the code behind ``make run`` and tests.

Children, all on 127.0.0.1: nx-27017 (MongoDB wire protocol over SQLite), the
moto server (SQS, Secrets Manager) and the prediction function under the Lambda
Runtime Interface Emulator. The gateway runs in this process (``make run``) or as
one more child (test fixtures, so that each stack reads its settings fresh).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from infra.local import aws_resources, mongo, services
from infra.local.services import ChildProcess, StartupError
from infra.local.stack_config import (
    AWS_VARIABLES_TO_DROP,
    DEFAULT_ADMIN_EMAIL,
    REGION,
    REPO_ROOT,
    Progress,
    StackConfig,
    StackInfo,
)

__all__ = [
    "AWS_VARIABLES_TO_DROP",
    "DEFAULT_ADMIN_EMAIL",
    "REPO_ROOT",
    "EmbeddedStack",
    "StackConfig",
    "StackInfo",
]

logger = logging.getLogger(__name__)


def _read_or_create_secret(path: Path, create: Callable[[], str]) -> tuple[str, bool]:
    """Return the value kept in ``path`` (mode 0600), creating it on first use."""
    if path.is_file():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = create()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value, True


class EmbeddedStack:
    """Start the children in order, wait for each to be healthy, stop them by PID."""

    def __init__(self, config: StackConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.children: list[ChildProcess] = []
        self._rie: Any = None
        self._gateway_server: Any = None
        self._gateway_log: IO[str] | None = None
        self._saved_stdout: IO[str] = sys.stdout
        self._progress = progress or (lambda component, status: None)
        self.var_dir = config.var_dir.resolve()
        self.log_dir = self.var_dir / "log"

    # -- start ---------------------------------------------------------------

    def start(self) -> StackInfo:
        """Start everything and return once ``/api/health`` returns 200.

        Raises StartupError naming the component (and its log file) that failed;
        whatever was already started is stopped first.
        """
        started = time.monotonic()
        try:
            info = self._start()
        except BaseException:
            self.stop()
            raise
        info.startup_seconds = time.monotonic() - started
        return info

    def _start(self) -> StackInfo:
        cfg = self.config
        self._check_ports()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        jwt_key, _ = _read_or_create_secret(
            self.var_dir / "secrets" / "jwt_signing_key",
            lambda: secrets.token_urlsafe(48),
        )
        password_file: Path | None = None
        if cfg.admin_password:
            admin_password, first_run = cfg.admin_password, False
        else:
            password_file = self.var_dir / "secrets" / "admin_password"
            admin_password, first_run = _read_or_create_secret(
                password_file, lambda: secrets.token_urlsafe(18)
            )

        mongodb_uri = cfg.mongodb_uri or f"mongodb://127.0.0.1:{cfg.mongo_port}"
        mongo_child = None if cfg.mongodb_uri else self._start_mongo()
        moto = self._start_moto()
        self._start_rie()

        if mongo_child is not None:
            self._wait("MongoDB (nx-27017)", mongo.ping_probe(mongodb_uri), mongo_child)
        else:
            self._wait("MongoDB", mongo.ping_probe(mongodb_uri), None)
        moto_endpoint = f"http://127.0.0.1:{cfg.moto_port}"
        self._wait("moto", services.tcp_probe(cfg.moto_port), moto)
        resources = aws_resources.create_resources(moto_endpoint, REGION, jwt_key)

        # The gateway imports the app while the prediction function loads its
        # model, which saves seconds; the app needs MongoDB and moto up already.
        base_url = f"http://127.0.0.1:{cfg.gateway_port}"
        app_env = self._app_env(
            mongodb_uri, moto_endpoint, resources, admin_password, base_url
        )
        self._start_gateway(app_env)
        self._wait_rie()
        self._wait(
            "gateway /api/health",
            services.http_probe(base_url + "/api/health"),
            self._child("gateway"),
            self.log_dir / "gateway.log",
        )
        return StackInfo(
            base_url=base_url,
            api_url=base_url + "/api",
            websocket_url=f"ws://127.0.0.1:{cfg.gateway_port}/ws",
            mongodb_uri=mongodb_uri,
            db_name=cfg.db_name,
            events_queue_url=resources.events_queue_url,
            dead_letter_queue_url=resources.dead_letter_queue_url,
            rescore_queue_url=resources.rescore_queue_url,
            rescore_dead_letter_queue_url=resources.rescore_dead_letter_queue_url,
            moto_endpoint=moto_endpoint,
            rie_endpoint=f"http://127.0.0.1:{cfg.rie_port}",
            admin_email=cfg.admin_email,
            admin_password=admin_password,
            admin_password_file=password_file,
            first_run=first_run,
            var_dir=self.var_dir,
            log_dir=self.log_dir,
            app_env=app_env,
        )

    def _check_ports(self) -> None:
        cfg = self.config
        ports = [
            ("gateway", cfg.gateway_port, "TRIAGE_GATEWAY_PORT"),
            ("moto", cfg.moto_port, "TRIAGE_MOTO_PORT"),
            ("prediction function (RIE)", cfg.rie_port, "TRIAGE_RIE_PORT"),
        ]
        if not cfg.mongodb_uri:
            ports.append(("MongoDB (nx-27017)", cfg.mongo_port, "TRIAGE_MONGO_PORT"))
        for component, port, setting in ports:
            services.check_port_free(component, port, setting)

    def _wait(
        self,
        name: str,
        probe: Callable[[], bool],
        child: ChildProcess | None,
        log_path: Path | None = None,
    ) -> None:
        self._progress(name, "starting")
        seconds = services.wait_until_healthy(
            name, probe, self.config.start_timeout_seconds, child, log_path
        )
        self._progress(name, f"healthy after {seconds:.1f} s")

    def _child(self, name: str) -> ChildProcess | None:
        return next((c for c in self.children if c.name == name), None)

    def _start_mongo(self) -> ChildProcess:
        child = mongo.start_nx_27017(
            self.var_dir / "mongo",
            self.config.mongo_port,
            self.log_dir,
            self.var_dir / "run" / "mongo.pid",
        )
        self.children.append(child)
        return child

    def _start_moto(self) -> ChildProcess:
        argv = [
            sys.executable,
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            str(self.config.moto_port),
        ]
        child = services.start_process("moto", argv, self.log_dir / "moto.log")
        self.children.append(child)
        return child

    def _start_rie(self) -> None:
        from ml_container import local_rie

        log_path = self.log_dir / "predict.log"
        with open(log_path, "ab") as log:
            self._rie = local_rie.start_rie(
                self.config.rie_port,
                env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "30"},
                output=log,
                wait=False,
            )

    def _wait_rie(self) -> None:
        from ml_container import local_rie

        name = "prediction function (RIE)"
        self._progress(name, "starting")
        started = time.monotonic()
        try:
            local_rie.wait_until_ready(
                self.config.rie_port, self._rie, self.config.start_timeout_seconds
            )
        except local_rie.RieError as exc:
            log_path = self.log_dir / "predict.log"
            raise StartupError(
                f"{name}: {exc}; see {log_path}\n{services.log_tail(log_path)}"
            ) from exc
        self._progress(name, f"healthy after {time.monotonic() - started:.1f} s")

    def _app_env(
        self,
        mongodb_uri: str,
        moto_endpoint: str,
        resources: aws_resources.AwsResources,
        admin_password: str,
        base_url: str,
    ) -> dict[str, str]:
        cfg = self.config
        return {
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DB": cfg.db_name,
            "PREDICT_FUNCTION_NAME": "function",
            "EVENTS_QUEUE_URL": resources.events_queue_url,
            "RESCORE_QUEUE_URL": resources.rescore_queue_url,
            "WEBSOCKET_MANAGEMENT_URL": f"{base_url}/local",
            "JWT_SECRET_ARN": resources.jwt_secret_arn,
            "BOOTSTRAP_ADMIN_EMAIL": cfg.admin_email,
            "BOOTSTRAP_ADMIN_PASSWORD": admin_password,
            "AWS_ENDPOINT_URL_SQS": moto_endpoint,
            # boto3 derives the variable from the service id "Secrets Manager",
            # so the name has an underscore between SECRETS and MANAGER.
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{cfg.rie_port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "triage-api",
        }

    def _start_gateway(self, app_env: dict[str, str]) -> None:
        from infra.local import serve

        port = self.config.gateway_port
        if self.config.gateway_in_process:
            for name in AWS_VARIABLES_TO_DROP:
                os.environ.pop(name, None)
            os.environ.update(app_env)
            # The app prints its logs and metrics (Powertools, Chalice) to
            # sys.stdout, as Lambda expects. In-process they go to the log file,
            # so the runner's terminal shows only its own status lines.
            self._gateway_log = open(self.log_dir / "gateway.log", "a", buffering=1)  # noqa: SIM115
            self._saved_stdout = sys.stdout
            sys.stdout = self._gateway_log
            try:
                app = serve.load_app(self.config.gateway_app)
                gateway = serve.build_gateway(app, port)
            except Exception as exc:
                logger.exception("importing %s failed", self.config.gateway_app)
                raise StartupError(
                    f"gateway: importing the Chalice app ({self.config.gateway_app})"
                    f" failed with {exc!r}; the traceback is in"
                    f" {self.log_dir / 'gateway.log'}"
                ) from exc
            self._gateway_server = serve.GatewayServer(gateway, port)
            self._gateway_server.start_in_thread()
            return
        env = services.environ_with(app_env)
        for name in AWS_VARIABLES_TO_DROP:
            env.pop(name, None)
        paths = [
            str(REPO_ROOT / "layers" / "triage_core"),
            str(REPO_ROOT / "functions" / "api"),
            str(REPO_ROOT),
        ]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        argv = [sys.executable, "-m", "infra.local.serve", "--port", str(port)]
        argv += ["--app", self.config.gateway_app]
        child = services.start_process(
            "gateway", argv, self.log_dir / "gateway.log", env=env, cwd=REPO_ROOT
        )
        self.children.append(child)

    def exited_components(self) -> list[str]:
        """Return the names and log files of children that are no longer running."""
        exited = [
            f"{c.name} (see {c.log_path})"
            for c in self.children
            if c.popen.poll() is not None
        ]
        if self._rie is not None and self._rie.poll() is not None:
            exited.append(f"prediction function (see {self.log_dir / 'predict.log'})")
        return exited

    # -- stop ----------------------------------------------------------------

    def stop(self) -> None:
        """Stop the gateway first, then the other children in parallel, by PID.

        The gateway goes first so that no request is in flight when its
        backends disappear; the backends do not depend on each other.
        """
        if self._gateway_server is not None:
            self._gateway_server.stop()
            self._gateway_server = None
        if self._gateway_log is not None:
            sys.stdout = self._saved_stdout
            self._gateway_log.close()
            self._gateway_log = None
        gateway = self._child("gateway")
        if gateway is not None:
            services.stop_process(gateway)
        stoppers: list[Callable[[], None]] = [
            functools.partial(services.stop_process, child)
            for child in self.children
            if child.name != "gateway"
        ]
        if self._rie is not None:
            from ml_container import local_rie

            stoppers.append(functools.partial(local_rie.stop_rie, self._rie))
            self._rie = None
        with ThreadPoolExecutor(max_workers=max(1, len(stoppers))) as pool:
            for future in [pool.submit(stop) for stop in stoppers]:
                future.result()
        self.children.clear()
