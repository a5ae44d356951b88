"""Build the local gateway around the Chalice app and serve it with uvicorn.

``python -m infra.local.serve --port PORT`` runs the gateway as its own process
(the test fixtures do this so each stack reads its settings fresh); ``make run``
uses ``GatewayServer`` in-process instead. Both read the app's settings from the
environment, so set it before calling ``load_app``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from infra.local.aws_resources import EVENTS_QUEUE, RESCORE_QUEUE, QueueSpec
from infra.local.gateway import Hook, LocalGateway
from infra.local.schedule import DEFAULT_INTERVAL_SECONDS, Schedule

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND_DIR = REPO_ROOT / "frontend"
DEFAULT_APP = "app:app"
STAGE = "local"


def load_app(spec: str = DEFAULT_APP) -> Any:
    """Import ``module:attribute`` with the layer and ``functions/api`` importable."""
    for path in (REPO_ROOT / "functions" / "api", REPO_ROOT / "layers" / "triage_core"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "app")


def _optional_module(name: str) -> Any | None:
    """Import ``name`` if the file exists; errors inside the module still raise."""
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def build_gateway(
    app: Any, port: int, frontend_dir: Path = FRONTEND_DIR
) -> LocalGateway:
    """Wrap ``app`` with the websocket gateway and SQS event source when present."""
    websocket = None
    ws_module = _optional_module("infra.local.websocket_gateway")
    if ws_module is not None:
        websocket = ws_module.WebsocketGateway(
            app=app, stage=STAGE, domain_name=f"127.0.0.1:{port}"
        )
    else:
        logger.warning("infra.local.websocket_gateway is missing; /ws returns 501")
    on_startup, on_shutdown = _event_source_hooks()
    return LocalGateway(
        app,
        stage=STAGE,
        frontend_dir=frontend_dir,
        websocket=websocket,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )


@dataclass(frozen=True)
class QueueFunction:
    """A function that an SQS event source mapping feeds in the cloud."""

    name: str
    handler_file: Path
    handler_name: str
    queue_url_variable: str
    queue: QueueSpec


QUEUE_FUNCTIONS = (
    QueueFunction(
        "notify",
        REPO_ROOT / "functions" / "notify" / "handler.py",
        "lambda_handler",
        "EVENTS_QUEUE_URL",
        EVENTS_QUEUE,
    ),
    QueueFunction(
        "rescore",
        REPO_ROOT / "functions" / "rescore" / "handler.py",
        "handler",
        "RESCORE_QUEUE_URL",
        RESCORE_QUEUE,
    ),
)


def _load_handler(function: QueueFunction) -> Any:
    """Import a function's handler file under its own module name."""
    spec = importlib.util.spec_from_file_location(
        f"{function.name}_handler", function.handler_file
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {function.handler_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function.handler_name)


def _sweep_interval() -> float:
    """Return TRIAGE_RESCORE_SWEEP_SECONDS, the local rescore sweep interval."""
    raw = os.environ.get("TRIAGE_RESCORE_SWEEP_SECONDS", "")
    try:
        return float(raw) if raw else DEFAULT_INTERVAL_SECONDS
    except ValueError:
        raise SystemExit(
            f"TRIAGE_RESCORE_SWEEP_SECONDS={raw!r} is not a number of seconds"
        ) from None


def _event_source_hooks() -> tuple[list[Hook], list[Hook]]:
    """Return lifespan hooks that feed the notify and rescore functions from SQS.

    ``infra.local.event_source`` plays the Lambda event source mapping. A
    function whose queue URL variable is empty or whose handler file is missing
    gets no poller, and its messages stay on the queue.
    """
    source_module = _optional_module("infra.local.event_source")
    if source_module is None:
        logger.warning("infra.local.event_source is missing; no SQS pollers run")
        return [], []
    pending: list[tuple[QueueFunction, str, Any]] = []
    for function in QUEUE_FUNCTIONS:
        queue_url = os.environ.get(function.queue_url_variable, "")
        if not queue_url or not function.handler_file.is_file():
            logger.warning(
                "%s function not started: %s is empty or %s is missing",
                function.name,
                function.queue_url_variable,
                function.handler_file,
            )
            continue
        pending.append((function, queue_url, _load_handler(function)))
    sources: list[Any] = []

    def start_all() -> None:
        for function, _queue_url, handler in pending:
            if function.name == "rescore":
                # The cloud template also runs the rescore function on a schedule.
                sources.append(
                    Schedule(handler, function.name, _sweep_interval()).start()
                )
        for function, queue_url, handler in pending:
            source = source_module.SqsEventSource(
                queue_url,
                handler,
                visibility_timeout=function.queue.visibility_timeout,
                max_receive_count=function.queue.max_receive_count,
                function_name=function.name,
            )
            sources.append(source.start())

    async def start() -> None:
        await asyncio.to_thread(start_all)

    async def stop() -> None:
        for source in sources:
            await asyncio.to_thread(source.stop)

    return [start], [stop]


class GatewayServer:
    """uvicorn serving the gateway, in a thread or in the foreground.

    It listens on 127.0.0.1 unless a host is given, as the compose image does.
    """

    def __init__(
        self, gateway: LocalGateway, port: int, host: str = "127.0.0.1"
    ) -> None:
        config = uvicorn.Config(
            gateway,
            host=host,
            port=port,
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start_in_thread(self) -> None:
        """Serve from a daemon thread; uvicorn installs no signal handlers there."""
        self._thread = threading.Thread(
            target=self.server.run, name="gateway", daemon=True
        )
        self._thread.start()

    def run(self) -> None:
        """Serve in the calling thread until SIGINT or SIGTERM."""
        self.server.run()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish open requests and exit, then join its thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the local API gateway.")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 only inside a container (compose)",
    )
    parser.add_argument(
        "--app", default=DEFAULT_APP, help="Chalice app as module:attribute"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    gateway = build_gateway(load_app(args.app), args.port)
    GatewayServer(gateway, args.port, args.host).run()


if __name__ == "__main__":
    main()
