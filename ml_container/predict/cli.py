"""Score a CSV of patients in bulk.

Usage: `python -m ml_container.predict.cli INPUT.csv OUTPUT.csv`.

Input: a comma-separated file with a header row. The columns used are

| column | unit | allowed |
|---|---|---|
| `id` (optional) | | any text; defaults to the row number |
| `age` | years | 0 to 120 |
| `sex` | | `female` or `male` |
| `spo2` | % | 50 to 100 |
| `respiratory_rate` | breaths/min | 4 to 60 |
| `heart_rate` | beats/min | 20 to 250 |
| `systolic_bp` | mmHg | 40 to 300 |

Other columns are ignored. Output: one row per input row, in order, with `row`, `id`,
`probability`, `risk_level`, `model_version`, `reasons` and `warnings` (texts joined
by " | ") and `error`. A rejected row has only `row`, `id` and `error`, and the same
error is printed to stderr as "row N: <field> <value> ...". The exit status is 0 even
when some rows are rejected, 2 when the input cannot be read.

This tool runs from the development environment (it needs rich); the Lambda image does
not ship it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from ml_container.predict.artifacts import default_model_dir, load_artifacts
from ml_container.predict.features import FEATURE_NAMES
from ml_container.predict.scoring import score_patients

CHUNK_ROWS = 512
OUTPUT_COLUMNS = (
    "row",
    "id",
    "probability",
    "risk_level",
    "model_version",
    "reasons",
    "warnings",
    "error",
)


def _parse_value(name: str, text: str) -> Any:
    """Turn CSV text into the value the handler expects; keep invalid text as is."""
    text = text.strip()
    if text == "":
        return None
    if name == "sex":
        return text
    try:
        number = float(text)
    except ValueError:
        return text  # validation reports it as "must be a number"
    return int(number) if number.is_integer() else number


def read_patients(path: Path) -> list[dict[str, Any]]:
    """Read the CSV into patient dicts keyed by the vitals field names."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [
            name for name in FEATURE_NAMES if name not in (reader.fieldnames or [])
        ]
        if missing:
            raise ValueError(f"{path} has no column(s) {', '.join(missing)}")
        patients = []
        for number, record in enumerate(reader, start=1):
            patient: dict[str, Any] = {
                name: _parse_value(name, record[name] or "") for name in FEATURE_NAMES
            }
            patient["id"] = (record.get("id") or "").strip() or str(number)
            patients.append(patient)
    return patients


def _output_row(number: int, result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        return {"row": number, "id": result["id"], "error": result["error"]}
    return {
        "row": number,
        "id": result["id"],
        "probability": result["probability"],
        "risk_level": result["risk_level"],
        "model_version": result["model_version"],
        "reasons": " | ".join(reason["text"] for reason in result["reasons"]),
        "warnings": " | ".join(warning["message"] for warning in result["warnings"]),
        "error": "",
    }


def score_file(
    input_path: Path, output_path: Path, model_dir: Path, console: Console
) -> tuple[int, int]:
    """Score every row of `input_path` into `output_path`; return (scored, rejected)."""
    artifacts = load_artifacts(model_dir)
    patients = read_patients(input_path)
    scored = rejected = 0
    with (
        output_path.open("w", newline="", encoding="utf-8") as handle,
        Progress(console=console, transient=True) as progress,
    ):
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        task = progress.add_task("scoring", total=len(patients))
        for start in range(0, len(patients), CHUNK_ROWS):
            chunk = patients[start : start + CHUNK_ROWS]
            results, _ = score_patients(artifacts, chunk)
            for offset, result in enumerate(results):
                number = start + offset + 1
                writer.writerow(_output_row(number, result))
                if "error" in result:
                    rejected += 1
                    # Plain print: rich would wrap long lines at the terminal width.
                    print(f"row {number}: {result['error']}", file=sys.stderr)
                else:
                    scored += 1
            progress.advance(task, len(chunk))
    return scored, rejected


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, score the file and print a one-line summary."""
    parser = argparse.ArgumentParser(
        description="Score a CSV of patient vitals with the ICU-admission model.",
        epilog="Columns: id (optional), age, sex, spo2, respiratory_rate, "
        "heart_rate, systolic_bp.",
    )
    parser.add_argument("input", type=Path, help="CSV file with a header row")
    parser.add_argument("output", type=Path, help="CSV file to write")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="artifact folder (default: MODEL_DIR or ml_container/model)",
    )
    arguments = parser.parse_args(argv)
    console = Console()
    try:
        scored, rejected = score_file(
            arguments.input,
            arguments.output,
            arguments.model_dir or default_model_dir(),
            console,
        )
    except (OSError, ValueError, UnicodeDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    console.print(
        f"scored {scored} rows, rejected {rejected}; wrote {arguments.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
