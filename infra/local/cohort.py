"""Read the Danish ED validation cohort (2013) as API vitals, and score AUROCs.

Columns used: ``bts`` systolic BP (mmHg), ``puls`` heart rate (beats/min), ``sat``
SpO2 (%), ``rf`` respiratory rate (breaths/min), ``age`` (years), ``sex`` (0/1)
and the outcome ``ev_intensiv`` (1 = ICU admission). The cohort records no
temperature, consciousness or oxygen therapy, so every row is sent with
consciousness "A", no temperature and ``supplemental_oxygen`` false.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATION_CSV = REPO_ROOT / "data" / "danish_ed_validation.csv"

# Danish column -> API field; all required by POST /patients.
VITAL_COLUMNS = {
    "bts": "systolic_bp",
    "puls": "heart_rate",
    "sat": "spo2",
    "rf": "respiratory_rate",
}
# NOTE: the upload does not document which sex code is which; 0 = female follows
# the model's training code (ml_container/training/data.py), so both agree.
SEX_CODES = {"0": "female", "1": "male"}


@dataclass(frozen=True)
class CohortRow:
    """One usable cohort row: the request body and the outcome."""

    row_id: str
    vitals: dict[str, Any]
    icu_admission: int


@dataclass
class SkipCounts:
    """Rows left out before posting, by reason."""

    zero_vital: int = 0
    missing_value: int = 0

    @property
    def total(self) -> int:
        return self.zero_vital + self.missing_value


def _number(raw: str | None) -> float | None:
    if raw is None or raw.strip() in ("", "NA"):
        return None
    return float(raw)


def parse_row(record: dict[str, str]) -> CohortRow | str:
    """Map one CSV record to a CohortRow, or return why it is skipped.

    The reasons are "zero_vital" (the file writes 0 for a vital it lacks) and
    "missing_value" (an empty vital, age, sex or outcome).
    """
    vitals: dict[str, Any] = {}
    for column, field in VITAL_COLUMNS.items():
        value = _number(record.get(column))
        if value is None:
            return "missing_value"
        if value == 0:
            return "zero_vital"
        vitals[field] = round(value)
    age = _number(record.get("age"))
    sex_value = _number(record.get("sex"))
    outcome = _number(record.get("ev_intensiv"))
    if age is None or sex_value is None or outcome is None:
        return "missing_value"
    sex = SEX_CODES.get(str(int(sex_value)))
    if sex is None:
        return "missing_value"
    vitals.update(
        age=round(age),
        sex=sex,
        supplemental_oxygen=False,
        consciousness="A",
    )
    return CohortRow(record.get("rowname", ""), vitals, int(outcome))


def read_rows(
    path: Path = VALIDATION_CSV, skips: SkipCounts | None = None
) -> Iterator[CohortRow]:
    """Yield usable rows in file order, counting skipped ones in ``skips``."""
    skips = skips if skips is not None else SkipCounts()
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            parsed = parse_row(record)
            if isinstance(parsed, CohortRow):
                yield parsed
            elif parsed == "zero_vital":
                skips.zero_vital += 1
            else:
                skips.missing_value += 1


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Return the area under the ROC curve from ranks (Mann-Whitney U).

    Tied scores share their mean rank, so a constant score gives 0.5. Raises
    ValueError when ``labels`` lacks either class.
    """
    if len(labels) != len(scores):
        raise ValueError("labels and scores differ in length")
    positives = sum(1 for label in labels if label == 1)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUROC needs at least one positive and one negative label")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = mean_rank
        start = end + 1
    positive_rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    u_statistic = positive_rank_sum - positives * (positives + 1) / 2
    return u_statistic / (positives * negatives)


def auroc_confidence_interval(
    area: float, positives: int, negatives: int, z: float = 1.96
) -> tuple[float, float]:
    """Return a confidence interval of an AUROC, 95% with the default ``z``.

    The standard error is Hanley and McNeil's (1982), computed from the area and
    the two class sizes alone. It is an approximation that grows less accurate
    as the number of positives falls.
    """
    q1 = area / (2 - area)
    q2 = 2 * area**2 / (1 + area)
    variance = (
        area * (1 - area)
        + (positives - 1) * (q1 - area**2)
        + (negatives - 1) * (q2 - area**2)
    ) / (positives * negatives)
    half_width = z * math.sqrt(max(variance, 0.0))
    return max(0.0, area - half_width), min(1.0, area + half_width)
