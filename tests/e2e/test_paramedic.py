"""Paramedic pages in a real browser against the embedded stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import PHONE, ui_login
from tests.e2e.forms import VALIDATION_CSV, danish_patient, fill_vitals

pytestmark = pytest.mark.e2e

# Validation-cohort row 5983: 68-year-old man, HR 121, RR 20, SpO2 95 %, SBP 173.
# NEWS2 by hand: pulse 111-130 -> 2, SpO2 94-95 -> 1, the rest 0; total 3, low band.
DANISH_ROW = "5983"
DANISH_NEWS2_POINTS = {
    "respiratory_rate": "0",
    "spo2": "1",
    "air_or_oxygen": "0",
    "systolic_bp": "0",
    "heart_rate": "2",
    "consciousness": "0",
    "temperature": "not measured",
}


def _submit(page: Page) -> None:
    page.click("form.vitals-form button[type=submit]")


def _percent(probability: float) -> str:
    return f"{probability * 100:.1f} %"


@pytest.fixture
def danish_vitals() -> dict[str, Any]:
    if not VALIDATION_CSV.exists():
        pytest.fail(f"{VALIDATION_CSV} is missing")
    return danish_patient(DANISH_ROW)


def test_danish_patient_shows_risk_news2_and_reaches_board(
    stack: Any, new_page, paramedic, doctor, shoot, danish_vitals
) -> None:
    board = new_page()
    ui_login(board, stack.base_url, doctor)
    expect(board.get_by_test_id("connection")).to_have_attribute(
        "data-state", "connected"
    )
    # A reload would drop this marker, so finding it afterwards proves a live update.
    board.evaluate("window.__noReload = true")

    page = new_page(PHONE)
    ui_login(page, stack.base_url, paramedic)
    expect(page.locator("h1")).to_have_text("New patient")
    shoot(page, "submit_form")
    fill_vitals(page, {**danish_vitals, "chief_complaint": "Palpitations"})
    _submit(page)

    result = page.locator("section.result")
    expect(result.locator("h2")).to_have_text("Submitted")
    patient_id = result.get_attribute("data-patient-id")
    assert patient_id and patient_id.startswith("pat_")

    expect(page.get_by_test_id("news2-total")).to_have_text("3")
    expect(result.locator("[data-band]")).to_have_attribute("data-band", "low")
    for parameter, points in DANISH_NEWS2_POINTS.items():
        cell = result.locator(f"tr[data-parameter={parameter}] td.num")
        expect(cell).to_have_text(points)
    expect(result).to_contain_text("Partial score: not measured temperature")

    expect(page.get_by_test_id("risk-percent")).to_be_visible()
    stored = stack.db().patients.find_one({"_id": patient_id})
    assert stored["submitted_by"] == paramedic.id
    assert stored["vitals"]["heart_rate"] == 121
    assert stored["prediction"]["state"] == "scored"
    probability = stored["prediction"]["probability"]
    level = stored["prediction"]["risk_level"]
    expect(page.get_by_test_id("risk-percent")).to_have_text(_percent(probability))
    expect(result.locator(".risk-panel [data-risk]")).to_have_attribute(
        "data-risk", level
    )
    expect(result.locator(".risk-panel [data-risk]")).to_contain_text(level.title())
    reasons = result.locator("ul.reasons li")
    assert reasons.count() == len(stored["prediction"]["reasons"])
    expect(reasons.first).to_contain_text(stored["prediction"]["reasons"][0]["text"])
    shoot(page, "submit_result")

    row = board.locator(f"li[data-patient-id={patient_id}]")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Palpitations")
    expect(row.locator("[data-news2]")).to_have_attribute("data-news2", "3")
    expect(row.locator("[data-risk]")).to_contain_text(_percent(probability))
    assert board.evaluate("window.__noReload") is True
    shoot(board, "board")

    page.click("#nav a[href='#/mine']")
    expect(
        page.get_by_test_id("my-patients").locator(f"li[data-patient-id={patient_id}]")
    ).to_be_visible()
    shoot(page, "my_patients")
    assert page.errors == []
    assert board.errors == []


def test_out_of_range_vital_is_rejected_in_browser(
    stack: Any, new_page, paramedic, danish_vitals
) -> None:
    page = new_page()
    posts: list[str] = []
    page.on(
        "request",
        lambda request: (
            posts.append(request.url)
            if request.method == "POST" and "/patients" in request.url
            else None
        ),
    )
    ui_login(page, stack.base_url, paramedic)
    fill_vitals(page, {**danish_vitals, "spo2": 45})
    _submit(page)

    error = page.locator("#error-spo2")
    expect(error).to_have_text("SpO2 45 % is outside the plausible range 50 to 100 %.")
    expect(page.locator("#field-spo2")).to_have_attribute("aria-invalid", "true")
    assert posts == []


def test_api_field_error_shows_next_to_field(
    stack: Any, new_page, paramedic, danish_vitals, shoot
) -> None:
    """Send a value the browser check would stop, so the API's own 400 is displayed."""
    page = new_page()
    ui_login(page, stack.base_url, paramedic)
    before = stack.db().patients.count_documents({"submitted_by": paramedic.id})

    def corrupt_heart_rate(route: Route) -> None:
        body = route.request.post_data_json
        body["heart_rate"] = 300
        route.continue_(post_data=json.dumps(body))

    page.route(re.compile(r".*/api/patients$"), corrupt_heart_rate)
    fill_vitals(page, danish_vitals)
    _submit(page)

    error = page.locator("#error-heart_rate")
    expect(error).to_have_text(
        "heart_rate=300 is outside the plausible range 20 to 250 beats/min"
    )
    expect(page.locator("#field-heart_rate")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_contain_text("heart_rate=300")
    after = stack.db().patients.count_documents({"submitted_by": paramedic.id})
    assert after == before
    shoot(page, "submit_api_error")


def test_offline_submission_is_sent_once_on_reconnect(
    stack: Any, new_page, paramedic, danish_vitals, shoot
) -> None:
    page = new_page()
    ui_login(page, stack.base_url, paramedic)
    complaint = f"offline check {id(page)}"
    page.context.set_offline(True)
    fill_vitals(page, {**danish_vitals, "chief_complaint": complaint})
    _submit(page)

    expect(page.locator("section.result h2")).to_have_text("Stored on this device")
    expect(page.get_by_test_id("outbox-count")).to_have_text("1 waiting to send")
    stored = page.evaluate("JSON.parse(localStorage.getItem('triage.outbox'))")
    assert len(stored) == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", stored[0]["key"])
    shoot(page, "submit_offline")

    page.context.set_offline(False)
    expect(page.get_by_test_id("outbox-count")).to_have_count(0)
    expect(page.locator("#notice")).to_contain_text("1 stored submission(s) sent")
    matches = list(stack.db().patients.find({"vitals.chief_complaint": complaint}))
    assert len(matches) == 1
    assert matches[0]["submitted_by"] == paramedic.id


def test_lost_response_is_retried_without_duplicate(
    stack: Any, new_page, paramedic, danish_vitals
) -> None:
    """The first POST is stored but its response is lost; the retry reuses the key."""
    page = new_page()
    ui_login(page, stack.base_url, paramedic)
    complaint = f"lost response {id(page)}"
    keys: list[str] = []

    def drop_first_response(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/api/patients$"), drop_first_response)
    fill_vitals(page, {**danish_vitals, "chief_complaint": complaint})
    _submit(page)
    expect(page.locator("section.result h2")).to_have_text("Stored on this device")
    assert (
        stack.db().patients.count_documents({"vitals.chief_complaint": complaint}) == 1
    )

    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_test_id("outbox-count")).to_have_count(0)
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert (
        stack.db().patients.count_documents({"vitals.chief_complaint": complaint}) == 1
    )


def test_child_patient_shows_model_warning(
    stack: Any, new_page, paramedic, danish_vitals
) -> None:
    """Age 12 is below the training cohort (16 to 108 years), so the model warns."""
    page = new_page()
    ui_login(page, stack.base_url, paramedic)
    fill_vitals(page, {**danish_vitals, "age": 12})
    _submit(page)

    result = page.locator("section.result")
    expect(result.locator("h2")).to_have_text("Submitted")
    patient_id = result.get_attribute("data-patient-id")
    stored = stack.db().patients.find_one({"_id": patient_id})
    warnings = stored["prediction"]["warnings"]
    age_warnings = [warning for warning in warnings if warning["field"] == "age"]
    assert len(age_warnings) == 1
    item = result.locator(".warnings li[data-field=age]")
    expect(item).to_have_text(age_warnings[0]["message"])
    expect(item).to_contain_text("12")
