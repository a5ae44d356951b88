"""Read the three cohorts in `data/` into model matrices, outcomes and comparators.

Cleaning rules, applied the same way to every cohort:

- an empty field, a `??` placeholder or a vital sign of 0 is missing (NaN);
- a vital sign outside the plausible range of the vitals contract (`features.FEATURES`)
  is missing too, because the API would reject it (one respiratory rate of 96/min in
  2013);
- sex is coded with `features.SEX_CODES`; the Danish 2013 file writes 0/1 and we read 0
  as female and 1 as male (data/SOURCES.md shows the haemoglobin and creatinine
  evidence);
- rows without age are dropped, because age is a required input (3 rows in 2013).

Only the standard library and numpy are used, so pandas is not needed for training
either.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml_container.predict.features import FEATURE_BY_NAME, FEATURE_NAMES, SEX_CODES

try:
    from triage_core.news2 import score_news2
except (
    ImportError
):  # pragma: no cover - the layer is on PYTHONPATH in every make target
    raise SystemExit(
        "triage_core is not importable; set PYTHONPATH to include layers/triage_core "
        "(the Makefile does this) and run again"
    ) from None

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
PRIMARY_FILE = "danish_ed_primary.csv"
VALIDATION_FILE = "danish_ed_validation.csv"
KTAS_FILE = "ktas_triage.csv"

# Ordinal urgency of the Danish triage colours (higher is more urgent); blue exists only
# in the 2013 cohort.
TRIAGE_COLOUR_RANK = {"blue": 0, "green": 1, "yellow": 2, "orange": 3, "red": 4}
KTAS_AVPU = {"1": "A", "2": "V", "3": "P", "4": "U"}


@dataclass
class Cohort:
    """Model matrix, outcomes and comparator scores of one cohort, row-aligned."""

    name: str
    x: np.ndarray  # shape (n, len(FEATURE_NAMES)), NaN where missing
    outcomes: dict[str, np.ndarray]  # outcome name -> 0/1 array
    comparators: dict[str, np.ndarray] = field(default_factory=dict)  # NaN = unknown
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped

    @property
    def complete(self) -> np.ndarray:
        """Mask of rows with every model input present (the only rows the API sends)."""
        return ~np.isnan(self.x).any(axis=1)


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _number(text: str) -> float:
    text = text.strip()
    if text in ("", "??", "NA"):
        return math.nan
    return float(text.replace(",", "."))


def _vital(name: str, text: str) -> float:
    value = _number(text)
    feature = FEATURE_BY_NAME[name]
    if math.isnan(value) or value == 0:
        return math.nan
    assert feature.minimum is not None and feature.maximum is not None
    if not feature.minimum <= value <= feature.maximum:
        return math.nan
    return value


def _news2_total(vitals: dict[str, Any]) -> float:
    present = {key: value for key, value in vitals.items() if value is not None}
    return float(score_news2(present).total)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def _build(
    name: str,
    rows: list[dict[str, Any]],
    outcomes: dict[str, list[int]],
    comparators: dict[str, list[float]],
    dropped: dict[str, int],
) -> Cohort:
    x = np.array([[row[key] for key in FEATURE_NAMES] for row in rows], dtype=float)
    return Cohort(
        name=name,
        x=x,
        outcomes={
            key: np.array(values, dtype=np.int8) for key, values in outcomes.items()
        },
        comparators={
            key: np.array(values, dtype=float) for key, values in comparators.items()
        },
        dropped=dropped,
    )


def load_danish(path: Path, *, primary: bool) -> Cohort:
    """Read a Danish cohort; `primary` selects the 2010 column names, else 2013.

    NEWS2 here has no temperature and no oxygen flag (neither cohort records them), so
    it is a partial score. In 2010 consciousness comes from GCS (15 is alert, below 15
    scores 3 points, an approximation the RCP does not define); 2013 has no
    consciousness at all.
    """
    columns = (
        {"spo2": "saturation", "respiratory_rate": "respirationsfrekvens",
         "heart_rate": "puls", "systolic_bp": "systoliskblodtryk", "icu": "icustatus"}
        if primary
        else {"spo2": "sat", "respiratory_rate": "rf", "heart_rate": "puls",
              "systolic_bp": "bts", "icu": "ev_intensiv"}
    )  # fmt: skip
    validation_sex = {"0.0": "female", "1.0": "male"}
    rows: list[dict[str, Any]] = []
    icu: list[int] = []
    news2: list[float] = []
    triage: list[float] = []
    dropped = {"age missing": 0}
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            age = _number(record["age"])
            if math.isnan(age):
                dropped["age missing"] += 1
                continue
            sex = record["sex"] if primary else validation_sex[record["sex"]]
            row: dict[str, Any] = {"age": age, "sex": float(SEX_CODES[sex])}
            for feature in ("spo2", "respiratory_rate", "heart_rate", "systolic_bp"):
                row[feature] = _vital(feature, record[columns[feature]])
            rows.append(row)
            icu.append(int(_number(record[columns["icu"]])))
            vitals: dict[str, Any] = {
                key: _none_if_nan(row[key])
                for key in ("spo2", "respiratory_rate", "heart_rate", "systolic_bp")
            }
            if primary and record["gcs"]:
                vitals["consciousness"] = "A" if _number(record["gcs"]) >= 15 else "V"
            news2.append(_news2_total(vitals))
            triage.append(float(TRIAGE_COLOUR_RANK.get(record["triage"], math.nan)))
    return _build(
        "Danish 2010 (primary)" if primary else "Danish 2013 (validation)",
        rows,
        {"icu": icu},
        {"news2": news2, "triage": triage},
        dropped,
    )


def load_ktas(path: Path) -> Cohort:
    """Read the KTAS cohort with outcomes `icu_or_death` and `admission`.

    Rows that differ only in `Diagnosis in ED` are one visit with two diagnoses, so only
    the first is kept. NEWS2 uses AVPU (`Mental`) and temperature; oxygen is not
    recorded. The comparator `triage` is 6 - KTAS_RN, so that higher is more urgent.
    """
    rows: list[dict[str, Any]] = []
    outcomes: dict[str, list[int]] = {"icu_or_death": [], "admission": []}
    news2: list[float] = []
    triage: list[float] = []
    seen: set[tuple[str, ...]] = set()
    dropped = {"same visit, second diagnosis": 0}
    # The file is Latin-1 text with `;` separators (a Korean spreadsheet export).
    with path.open(newline="", encoding="latin-1") as handle:
        for record in csv.DictReader(handle, delimiter=";"):
            visit = tuple(v for k, v in record.items() if k != "Diagnosis in ED")
            if visit in seen:
                dropped["same visit, second diagnosis"] += 1
                continue
            seen.add(visit)
            row: dict[str, Any] = {
                "age": _number(record["Age"]),
                "sex": float(SEX_CODES["female" if record["Sex"] == "1" else "male"]),
                "spo2": _vital("spo2", record["Saturation"]),
                "respiratory_rate": _vital("respiratory_rate", record["RR"]),
                "heart_rate": _vital("heart_rate", record["HR"]),
                "systolic_bp": _vital("systolic_bp", record["SBP"]),
            }
            rows.append(row)
            disposition = record["Disposition"]
            outcomes["icu_or_death"].append(int(disposition in ("3", "6")))
            outcomes["admission"].append(int(disposition in ("2", "3", "7")))
            temperature = _number(record["BT"])
            vitals: dict[str, Any] = {
                key: _none_if_nan(row[key])
                for key in ("spo2", "respiratory_rate", "heart_rate", "systolic_bp")
            }
            vitals["consciousness"] = KTAS_AVPU[record["Mental"]]
            vitals["temperature"] = _none_if_nan(temperature)
            news2.append(_news2_total(vitals))
            triage.append(6.0 - float(record["KTAS_RN"]))
    return _build(
        "KTAS (Korea)", rows, outcomes, {"news2": news2, "triage": triage}, dropped
    )


def load_all(data_dir: Path = DATA_DIR) -> tuple[Cohort, Cohort, Cohort]:
    """Return the primary, validation and KTAS cohorts."""
    return (
        load_danish(data_dir / PRIMARY_FILE, primary=True),
        load_danish(data_dir / VALIDATION_FILE, primary=False),
        load_ktas(data_dir / KTAS_FILE),
    )
