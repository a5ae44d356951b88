"""``infra.local.replay`` posts cohort rows and scores what the API stored."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from infra.local import replay
from infra.local.cohort import VALIDATION_CSV, auroc
from infra.local.stack import StackInfo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write 14 real rows: 4 ICU admissions, 8 without, one zero, one missing."""
    with VALIDATION_CSV.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        records = list(reader)
    vitals = ("bts", "puls", "sat", "rf")

    def complete(record: dict[str, str]) -> bool:
        return all(record[c] not in ("", "NA", "0") for c in vitals)

    icu = [r for r in records if r["ev_intensiv"] == "1" and complete(r)][:4]
    no_icu = [r for r in records if r["ev_intensiv"] == "0" and complete(r)][:8]
    zero = next(r for r in records if r["bts"] == "0")
    missing = next(r for r in records if r["rf"] in ("", "NA"))
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows([zero, *icu[:2], missing, *no_icu, *icu[2:]])
    return path


def test_replay_scores_stored_rows(stack: StackInfo, small_cohort: Path) -> None:
    client = replay.ApiClient(stack.api_url, stack.admin_email, stack.admin_password)
    result = replay.replay(client, rows=50, csv_path=small_cohort, show=False)

    assert result.posted == 12
    assert result.skips.zero_vital == 1
    assert result.skips.missing_value == 1
    assert not result.rejected
    assert result.pending == 0
    assert result.positives == 4

    stored = {
        doc["_id"]: doc
        for doc in stack.db().patients.find({"_id": {"$in": result.patient_ids}})
    }
    assert len(stored) == 12
    probabilities = [stored[i]["prediction"]["probability"] for i in result.patient_ids]
    totals = [stored[i]["news2"]["total"] for i in result.patient_ids]
    assert result.probabilities == probabilities
    assert result.news2_totals == totals
    assert result.model_auroc() == auroc(result.labels, probabilities)
    assert result.news2_auroc() == auroc(result.labels, [float(t) for t in totals])


def test_replay_stops_at_row_limit(stack: StackInfo, small_cohort: Path) -> None:
    client = replay.ApiClient(stack.api_url, stack.admin_email, stack.admin_password)
    result = replay.replay(client, rows=3, csv_path=small_cohort, show=False)
    assert result.posted == 3
    assert result.skips.zero_vital == 1
    assert result.skips.missing_value == 1
    assert result.positives == 2


def test_replay_cli_prints_aurocs(
    stack: StackInfo, small_cohort: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--rows", "12", "--url", stack.base_url, "--csv", str(small_cohort),
        "--email", stack.admin_email, "--password", stack.admin_password,
    ]  # fmt: skip
    exit_code = replay.main(argv)
    output = capsys.readouterr().out
    assert exit_code == 0
    assert "AUROC, model probability" in output
    assert "AUROC, NEWS2 total" in output
    assert output.count("95% CI") == 2
    assert "no temperature" in output


def test_replay_wrong_password_fails(
    stack: StackInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--rows", "1", "--url", stack.base_url, "--password", "not-the-password"]
    assert replay.main(argv) == 1
    assert "login as" in capsys.readouterr().out
