"""Fill the paramedic form and read the Danish validation cohort."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

VALIDATION_CSV = (
    Path(__file__).resolve().parents[2] / "data" / "danish_ed_validation.csv"
)

# The 2013 file codes sex as 0/1 without documentation; the model reads 0 as female.
DANISH_SEX = {"0.0": "female", "1.0": "male"}

NUMERIC_FIELDS = (
    "age",
    "heart_rate",
    "respiratory_rate",
    "spo2",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
    "gcs",
)


def danish_patient(rowname: str) -> dict[str, Any]:
    """Return the request body for one row of the validation cohort.

    The cohort has no consciousness, oxygen or temperature, so the patient is
    alert, on room air and without a temperature (a partial NEWS2).
    """
    with VALIDATION_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["rowname"] == rowname:
                return {
                    "age": int(float(row["age"])),
                    "sex": DANISH_SEX[row["sex"]],
                    "heart_rate": int(float(row["puls"])),
                    "respiratory_rate": int(float(row["rf"])),
                    "spo2": int(float(row["sat"])),
                    "systolic_bp": int(float(row["bts"])),
                    "supplemental_oxygen": False,
                    "consciousness": "A",
                }
    raise LookupError(f"row {rowname} is not in {VALIDATION_CSV}")


def fill_vitals(page: Page, vitals: dict[str, Any]) -> None:
    """Type a request body into the form the way a paramedic would."""
    for name in NUMERIC_FIELDS:
        if name in vitals:
            page.fill(f"#field-{name}", str(vitals[name]))
    page.check(f"input[name=sex][value={vitals['sex']}]")
    page.check(f"input[name=consciousness][value={vitals['consciousness']}]")
    if vitals.get("supplemental_oxygen"):
        page.check("#field-supplemental_oxygen")
    if "chief_complaint" in vitals:
        page.fill("#field-chief_complaint", vitals["chief_complaint"])
