"""Run every `bench/bench_*.py` in turn and print a summary table of their last lines.

Each bench is a separate process, so one bench's imports and caches never speed up or
slow down the next. By convention a bench's last line is its headline ratio, and the
table shows that line with the exit status and wall time.

Run: `make bench` or `python -m bench.run_all [--only NAME ...]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
TIMEOUT_SECONDS = 600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", default=None, help="bench module names to run, e.g. "
        "bench_cold_start"
    )  # fmt: skip
    arguments = parser.parse_args()

    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if arguments.only:
        scripts = [s for s in scripts if s.stem in arguments.only]
    environment = {**os.environ}
    extra = [str(REPO / "layers" / "triage_core"), str(REPO / "functions" / "api"),
             str(REPO)]  # fmt: skip
    environment["PYTHONPATH"] = os.pathsep.join(
        [*extra, environment.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)

    summary: list[tuple[str, int, float, str]] = []
    for script in scripts:
        print(f"=== {script.stem}", flush=True)
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, "-m", f"bench.{script.stem}"],
                cwd=REPO,
                env=environment,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
            status, output = result.returncode, result.stdout
            if result.returncode != 0:
                output += result.stderr
        except subprocess.TimeoutExpired:
            status, output = -1, f"timed out after {TIMEOUT_SECONDS} s"
        elapsed = time.perf_counter() - started
        print(output.rstrip(), flush=True)
        lines = [line for line in output.splitlines() if line.strip()]
        summary.append((script.stem, status, elapsed, lines[-1] if lines else ""))

    print("\nbench                      status  seconds  result")
    for name, status, elapsed, last in summary:
        state = "ok" if status == 0 else f"exit {status}"
        print(f"{name:26} {state:7} {elapsed:7.1f}  {last}")
    return 0 if all(status == 0 for _, status, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
