"""Batch scoring CLI on real Danish 2013 rows, including a rejected row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ml_container.predict.cli import main
from tests.unit.test_predict_handler import validation_patients

COLUMNS = ["id", "age", "sex", "spo2", "respiratory_rate", "heart_rate", "systolic_bp"]
MANIFEST = json.loads(
    (
        Path(__file__).resolve().parents[2] / "ml_container/model/manifest.json"
    ).read_text()
)


def write_input(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_cli_scores_rows_and_reports_rejects(tmp_path, capsys):
    rows = validation_patients(20)
    rows[4] = {**rows[4], "spo2": 0}  # 0 means "not measured" in the source file
    rows[9] = {**rows[9], "sex": "unknown"}
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    write_input(source, rows)

    assert main([str(source), str(target)]) == 0

    with target.open(newline="") as handle:
        output = list(csv.DictReader(handle))
    assert len(output) == 20
    assert [r["id"] for r in output] == [r["id"] for r in rows]
    assert output[4]["error"] == "spo2 0 is outside the allowed range 50 to 100%"
    assert output[4]["probability"] == ""
    assert output[9]["error"] == 'sex must be "female" or "male", got \'unknown\''
    scored = [r for i, r in enumerate(output) if i not in (4, 9)]
    for row in scored:
        assert row["error"] == ""
        assert 0.0 <= float(row["probability"]) <= 1.0
        assert row["risk_level"] in MANIFEST["risk_levels"]
        assert row["model_version"] == MANIFEST["model_version"]
        assert row["reasons"].count(" risk") == 3
    captured = capsys.readouterr()
    assert "row 5: spo2 0 is outside the allowed range 50 to 100%" in captured.err
    assert "row 10: sex must be" in captured.err
    assert "scored 18 rows, rejected 2" in captured.out


def test_cli_rejects_file_without_columns(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("id,age\n1,50\n")
    assert main([str(source), str(tmp_path / "out.csv")]) == 2
    assert "has no column(s) sex, spo2" in capsys.readouterr().err
