"""HTTP helpers shared by the access-control tests: accounts, tokens, a real patient."""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
VALIDATION_CSV = REPO / "data" / "danish_ed_validation.csv"


@dataclass
class Account:
    role: str
    user: dict[str, Any]
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login(api_url: str, email: str, password: str) -> dict[str, Any]:
    response = requests.post(
        f"{api_url}/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def create_account(api_url: str, admin: Account, role: str, label: str) -> Account:
    password = secrets.token_urlsafe(16)
    email = f"{label}-{secrets.token_hex(4)}@hospital.example"
    response = requests.post(
        f"{api_url}/users",
        json={"email": email, "name": label, "role": role, "password": password},
        headers=admin.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    tokens = login(api_url, email, password)
    return Account(role, tokens["user"], tokens["access_token"], password)


def validation_vitals(row_index: int = 0) -> dict[str, Any]:
    """Return the vitals of a real Danish validation-cohort row with all four vitals.

    The cohort records no consciousness or temperature, so consciousness is ``A`` and
    temperature is left out (the NEWS2 score is then partial).
    """
    with VALIDATION_CSV.open(newline="") as handle:
        usable = [
            row
            for row in csv.DictReader(handle)
            if all(row[c] not in ("", "0", "NA") for c in ("bts", "puls", "sat", "rf"))
            and row["age"] not in ("", "NA")
        ]
    row = usable[row_index]
    return {
        "age": int(float(row["age"])),
        "sex": "male" if row["sex"] in ("1", "1.0") else "female",
        "heart_rate": int(float(row["puls"])),
        "respiratory_rate": int(float(row["rf"])),
        "spo2": int(float(row["sat"])),
        "supplemental_oxygen": False,
        "systolic_bp": int(float(row["bts"])),
        "consciousness": "A",
    }


def submit(api_url: str, account: Account, row_index: int = 0) -> dict[str, Any]:
    response = requests.post(
        f"{api_url}/patients",
        json=validation_vitals(row_index),
        headers=account.headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()
