"""Run the whole platform on this machine: ``python -m infra.local.run`` (``make run``).

Data lives in ``var/`` (``TRIAGE_VAR_DIR``), so a second run finds the patients,
users, JWT signing key and admin password of the first. Ports come from
``TRIAGE_GATEWAY_PORT``, ``TRIAGE_MONGO_PORT``, ``TRIAGE_MOTO_PORT`` and
``TRIAGE_RIE_PORT``. Ctrl-C stops every child process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from infra.local.services import StartupError
from infra.local.stack import REPO_ROOT, EmbeddedStack, StackConfig, StackInfo

logger = logging.getLogger(__name__)
# Bound to the terminal now: in-process, the stack later points sys.stdout at
# the gateway log so that the app's own output lands there.
console = Console(file=sys.stdout)


def _print_ready(info: StackInfo, seconds: float) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("Frontend", info.base_url + "/")
    table.add_row("API", info.api_url)
    table.add_row("Websocket", info.websocket_url)
    table.add_row("MongoDB", f"{info.mongodb_uri} (database {info.db_name})")
    table.add_row("Logs", str(info.log_dir))
    console.print(table)
    if info.admin_password_file is None:
        console.print(
            f"Admin: {info.admin_email} (password from BOOTSTRAP_ADMIN_PASSWORD)"
        )
    elif not _shown_marker(info.admin_password_file).exists():
        console.print(
            f"[bold]First run.[/bold] Admin login: {info.admin_email} /"
            f" [bold]{info.admin_password}[/bold]"
        )
        console.print(f"The password is stored in {info.admin_password_file} (0600).")
        _shown_marker(info.admin_password_file).touch(mode=0o600)
    else:
        console.print(
            f"Admin: {info.admin_email}, password in {info.admin_password_file}"
        )
    console.print(
        f"[green]Ready:[/green] first healthy /api/health after"
        f" {seconds:.1f} s. Press Ctrl-C to stop."
    )


def _configure_logging(log_file: Path) -> None:
    """Log INFO and up to ``log_file``; warnings and errors also to the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    console_handler = RichHandler(console=console, show_path=False)
    console_handler.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, handlers=[file_handler, console_handler])


def _shown_marker(password_file: Path) -> Path:
    """Return the file whose presence means the password was printed once."""
    return password_file.with_name(password_file.name + ".shown")


def _seconds_since_process_start(fallback_start: float) -> float:
    """Return seconds since this process was executed, imports included.

    Reads the start time from /proc (Linux); elsewhere it counts from
    ``fallback_start``, a ``time.monotonic()`` value.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return time.monotonic() - fallback_start
    return uptime - started_ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    started = time.monotonic()
    var_dir = Path(os.environ.get("TRIAGE_VAR_DIR", REPO_ROOT / "var"))
    _configure_logging(var_dir / "log" / "gateway.log")
    try:
        config = StackConfig.from_environ(var_dir)
    except StartupError as exc:
        console.print(f"[red]Invalid setting:[/red] {exc}")
        return 2
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"\n{signal.Signals(signum).name} received, stopping...")
        stop_requested.set()
        # Raising also breaks out of a start-up wait, and start() then stops
        # whatever it had started.
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def progress(component: str, status: str) -> None:
        colour = "green" if status.startswith("healthy") else "yellow"
        console.print(f"  {component}: [{colour}]{status}[/{colour}]")

    stack = EmbeddedStack(config, progress)
    console.print(f"[bold]Starting the triage platform[/bold] (data in {var_dir})")
    try:
        info = stack.start()
    except StartupError as exc:
        console.print(f"[red]Start-up failed:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("Stopped during start-up.")
        return 130
    _print_ready(info, _seconds_since_process_start(started))
    try:
        while not stop_requested.is_set():
            time.sleep(0.5)
            exited = stack.exited_components()
            if exited:
                console.print(f"[red]Exited unexpectedly:[/red] {', '.join(exited)}")
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        console.print("All processes stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
