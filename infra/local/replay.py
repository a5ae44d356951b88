"""Post validation-cohort patients through the API and score the stored risks.

``python -m infra.local.replay --rows N [--url URL]`` logs in as the bootstrap
admin, unless ``--email`` and ``--password`` are given. It posts the first N
usable rows of the Danish 2013 validation cohort to ``POST /patients``. Then it
prints the AUROC of the stored model probability and of the stored NEWS2 total
against ICU admission (``ev_intensiv``), both on the same rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from infra.local.cohort import (
    VALIDATION_CSV,
    SkipCounts,
    auroc,
    auroc_confidence_interval,
    read_rows,
)
from infra.local.stack import DEFAULT_ADMIN_EMAIL, REPO_ROOT

RETRY_STATUSES = {502, 503, 504}
MAX_ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 35.0

console = Console()


class ReplayError(RuntimeError):
    """Login failed or the API is unreachable; the message names the cause."""


@dataclass
class ReplayResult:
    """Counts and scores of one replay run."""

    posted: int = 0
    skips: SkipCounts = field(default_factory=SkipCounts)
    rejected: Counter[str] = field(default_factory=Counter)
    pending: int = 0
    labels: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    news2_totals: list[int] = field(default_factory=list)
    patient_ids: list[str] = field(default_factory=list)

    @property
    def positives(self) -> int:
        return sum(self.labels)

    def model_auroc(self) -> float | None:
        return _safe_auroc(self.labels, self.probabilities)

    def news2_auroc(self) -> float | None:
        return _safe_auroc(self.labels, [float(t) for t in self.news2_totals])


def _safe_auroc(labels: list[int], scores: list[float]) -> float | None:
    try:
        return auroc(labels, scores)
    except ValueError:
        return None


class ApiClient:
    """A logged-in session against the REST API; logs in again after a 401."""

    def __init__(self, api_url: str, email: str, password: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._email = email
        self._password = password
        self._session = requests.Session()
        self.login()

    def login(self) -> None:
        try:
            response = self._session.post(
                f"{self.api_url}/auth/login",
                json={"email": self._email, "password": self._password},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.ConnectionError as exc:
            raise ReplayError(
                f"cannot reach {self.api_url}; start the platform with `make run`"
                " or pass --url"
            ) from exc
        if response.status_code != 200:
            raise ReplayError(
                f"login as {self._email} failed with HTTP {response.status_code}:"
                f" {response.text[:200]}"
            )
        token = response.json()["access_token"]
        self._session.headers["Authorization"] = f"Bearer {token}"

    def post_patient(self, vitals: dict[str, Any], key: str) -> requests.Response:
        """POST one patient, retrying 502/503/504 and refused connections.

        The same ``Idempotency-Key`` goes with every attempt, so a retry after a
        lost response cannot store the patient twice.
        """
        response: requests.Response | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._session.post(
                    f"{self.api_url}/patients",
                    json=vitals,
                    headers={"Idempotency-Key": key},
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
            except requests.ConnectionError:
                if attempt == MAX_ATTEMPTS:
                    raise
                time.sleep(0.5 * attempt)
                continue
            if response.status_code == 401 and attempt < MAX_ATTEMPTS:
                self.login()
                continue
            if response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
                return response
            time.sleep(0.5 * attempt)
        assert response is not None
        return response


def replay(
    client: ApiClient, rows: int, csv_path: Path = VALIDATION_CSV, show: bool = True
) -> ReplayResult:
    """Post up to ``rows`` usable cohort rows and collect the stored scores."""
    result = ReplayResult()
    run_id = uuid.uuid4().hex[:8]
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    )
    with progress:
        task = progress.add_task("Posting patients", total=rows)
        for row in read_rows(csv_path, result.skips):
            if result.posted + sum(result.rejected.values()) >= rows:
                break
            response = client.post_patient(row.vitals, f"replay-{run_id}-{row.row_id}")
            progress.advance(task)
            if response.status_code != 201:
                code = _error_code(response)
                result.rejected[f"HTTP {response.status_code} {code}"] += 1
                continue
            _record(result, response.json(), row.icu_admission)
        # The file may hold fewer usable rows than requested.
        progress.update(task, total=result.posted + sum(result.rejected.values()))
    return result


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unknown"


def _record(result: ReplayResult, patient: dict[str, Any], icu: int) -> None:
    result.posted += 1
    result.patient_ids.append(patient["id"])
    prediction = patient.get("prediction") or {}
    if prediction.get("state") != "scored":
        # Both AUROCs use the same rows, so a pending prediction drops the row.
        result.pending += 1
        return
    result.labels.append(icu)
    result.probabilities.append(float(prediction["probability"]))
    result.news2_totals.append(int(patient["news2"]["total"]))


def print_report(result: ReplayResult) -> None:
    table = Table(title="Replay of the Danish ED validation cohort (2013)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("patients stored (201)", str(result.posted))
    table.add_row("skipped: a vital recorded as 0", str(result.skips.zero_vital))
    table.add_row("skipped: a required value missing", str(result.skips.missing_value))
    for reason, count in sorted(result.rejected.items()):
        table.add_row(f"rejected: {reason}", str(count))
    table.add_row("prediction pending (left out of AUROC)", str(result.pending))
    table.add_row(
        "rows scored / ICU admissions", f"{len(result.labels)} / {result.positives}"
    )
    negatives = len(result.labels) - result.positives
    for name, value in (
        ("AUROC, model probability", result.model_auroc()),
        ("AUROC, NEWS2 total", result.news2_auroc()),
    ):
        if value is None:
            table.add_row(name, "n/a (needs both outcomes)")
            continue
        low, high = auroc_confidence_interval(value, result.positives, negatives)
        table.add_row(name, f"{value:.3f} (95% CI {low:.2f} to {high:.2f})")
    console.print(table)
    console.print(
        "The cohort has no temperature or consciousness: every patient was sent"
        ' with consciousness "A", no temperature and no supplemental oxygen, so'
        " NEWS2 is partial (temperature is not a model input)."
    )


def _default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('TRIAGE_GATEWAY_PORT', '8000')}"


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    email = args.email or os.environ.get("BOOTSTRAP_ADMIN_EMAIL") or DEFAULT_ADMIN_EMAIL
    password = args.password or os.environ.get("BOOTSTRAP_ADMIN_PASSWORD")
    if password:
        return email, password
    var_dir = Path(os.environ.get("TRIAGE_VAR_DIR", REPO_ROOT / "var"))
    password_file = var_dir / "secrets" / "admin_password"
    if not password_file.is_file():
        raise ReplayError(
            f"no password: {password_file} does not exist; pass --password or set"
            " BOOTSTRAP_ADMIN_PASSWORD"
        )
    return email, password_file.read_text().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="patients to post")
    parser.add_argument(
        "--url",
        default=_default_url(),
        help="gateway root such as http://127.0.0.1:8000 (the API is URL/api)",
    )
    parser.add_argument("--email", help="login email (default: the bootstrap admin)")
    parser.add_argument("--password", help="login password (default: var/secrets)")
    parser.add_argument("--csv", type=Path, default=VALIDATION_CSV, help="cohort file")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    url = args.url.rstrip("/")
    api_url = url if url.endswith("/api") else url + "/api"
    try:
        email, password = _credentials(args)
        client = ApiClient(api_url, email, password)
        result = replay(client, args.rows, args.csv)
    except ReplayError as exc:
        console.print(f"[red]Replay failed:[/red] {exc}")
        return 1
    print_report(result)
    return 0 if result.posted else 1


if __name__ == "__main__":
    sys.exit(main())
