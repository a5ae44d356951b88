"""Doctor pages: critical alert on the live board and the patient workflow."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, api_login, page_width, ui_login
from tests.e2e.forms import fill_vitals

pytestmark = pytest.mark.e2e

# The model scores this patient about 18 % ICU risk, above the critical cut-off
# in ml_container/model/manifest.json; NEWS2 is 3+3+2+3+3+3 = 17 before temperature.
CRITICAL_VITALS = {
    "age": 70,
    "sex": "male",
    "heart_rate": 135,
    "respiratory_rate": 32,
    "spo2": 85,
    "supplemental_oxygen": True,
    "systolic_bp": 80,
    "consciousness": "V",
    "chief_complaint": "Short of breath",
}
MODEL_INPUTS = (
    "Based on age, sex, SpO2, respiratory rate, heart rate and systolic BP. "
    "Consciousness, temperature and oxygen are not model inputs; see NEWS2."
)


def post_patient(stack: Any, account, body: dict[str, Any]) -> str:
    """Submit vitals through the API as `account` and return the patient id."""
    tokens = api_login(stack.api_url, account.email, account.password)
    response = requests.post(
        f"{stack.api_url}/patients",
        json=body,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_critical_patient_raises_alert_until_acknowledged(
    stack: Any, new_page, paramedic, doctor, shoot
) -> None:
    board = new_page()
    ui_login(board, stack.base_url, doctor)
    expect(board.get_by_test_id("connection")).to_have_attribute(
        "data-state", "connected"
    )

    page = new_page(PHONE)
    ui_login(page, stack.base_url, paramedic)
    fill_vitals(page, CRITICAL_VITALS)
    page.click("form.vitals-form button[type=submit]")
    expect(page.locator("section.result h2")).to_have_text("Submitted")
    patient_id = page.locator("section.result").get_attribute("data-patient-id")
    expect(page.get_by_test_id("news2-total")).to_have_text("17")
    expect(page.locator(".risk-panel [data-risk]")).to_have_attribute(
        "data-risk", "critical"
    )
    shoot(page, "submit_result_critical")

    stored = stack.db().patients.find_one({"_id": patient_id})
    assert stored["prediction"]["risk_level"] == "critical"

    alert = board.locator(f".alert-critical[data-patient-id={patient_id}]")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("CRITICAL patient")
    expect(alert).to_contain_text("70 y male")
    assert int(board.evaluate("document.body.dataset.beeps")) >= 1
    # The login click created the AudioContext, so the beep is audible.
    expect(alert.get_by_test_id("sound-off")).to_have_count(0)
    row = board.locator(f"li[data-patient-id={patient_id}]")
    expect(row).to_have_attribute("data-risk", "critical")
    expect(board.locator("ul.board-list li").first).to_have_attribute(
        "data-risk", "critical"
    )
    shoot(board, "board_critical_alert")

    expect(alert.get_by_test_id("alert-count")).to_have_count(0)
    # Risk bars take the badge colours and the chart boxes carry titles.
    risk_chart = board.get_by_test_id("chart-risk")
    expect(risk_chart.locator("figcaption")).to_have_text("ICU risk levels")
    expect(board.get_by_test_id("chart-status").locator("figcaption")).to_have_text(
        "Statuses"
    )
    bar_fill = risk_chart.locator("rect.risk-critical").evaluate(
        "bar => getComputedStyle(bar).fill"
    )
    badge_colour = row.locator(".badge.risk-critical").evaluate(
        "badge => getComputedStyle(badge).backgroundColor"
    )
    assert bar_fill == badge_colour == "rgb(179, 38, 30)"

    # A second critical patient joins the same banner, newest first.
    second_id = post_patient(
        stack, paramedic, {**CRITICAL_VITALS, "chief_complaint": "Chest pain"}
    )
    banner = board.locator(".alert-critical")
    expect(banner).to_have_attribute("data-patient-id", second_id)
    expect(banner).to_have_count(1)
    expect(banner.get_by_test_id("alert-count")).to_have_text(
        "2 unacknowledged critical patients"
    )
    expect(
        banner.locator(f".alert-list li[data-patient-id={patient_id}] a")
    ).to_have_attribute("href", f"#/patients/{patient_id}")
    banner.get_by_text("Show the other patient").click()
    expect(
        banner.locator(f".alert-list li[data-patient-id={patient_id}] a")
    ).to_be_visible()
    shoot(board, "board_critical_alert_two")
    banner.get_by_role("button", name="Acknowledge all").click()
    expect(banner).to_have_count(0)
    beeps = int(board.evaluate("document.body.dataset.beeps"))
    assert beeps >= 2
    assert board.errors == []
    assert page.errors == []


def test_doctor_assigns_moves_and_notes_patient(
    stack: Any, new_page, paramedic, doctor, shoot
) -> None:

    body = {
        **CRITICAL_VITALS,
        "spo2": 96,
        "supplemental_oxygen": False,
        "temperature": 37.2,
    }
    patient_id = post_patient(stack, paramedic, body)
    child_id = post_patient(
        stack, paramedic, {**body, "age": 10, "chief_complaint": "Child, wheeze"}
    )

    page = new_page()
    ui_login(page, stack.base_url, doctor)
    # NEWS2 is not validated under 16 years: a marker on the board row...
    child_row = page.locator(f"li[data-patient-id={child_id}]")
    expect(child_row.get_by_test_id("news2-warning-marker")).to_contain_text(
        "NEWS2 caution"
    )
    expect(
        page.locator(f"li[data-patient-id={patient_id}]").get_by_test_id(
            "news2-warning-marker"
        )
    ).to_have_count(0)
    # ...and the full text in the NEWS2 card.
    doctor_list_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            doctor_list_requests.append(request.url)
            if "/api/doctors" in request.url
            else None
        ),
    )
    page.goto(f"{stack.base_url}/#/patients/{child_id}")
    expect(page.get_by_test_id("news2-warnings")).to_contain_text("16 years")
    shoot(page, "patient_child_news2_warning")
    page.goto(f"{stack.base_url}/#/patients/{patient_id}")
    expect(page.locator("tr[data-field=heart_rate] td")).to_have_text("135 beats/min")
    expect(page.locator("tr[data-field=temperature] td")).to_have_text("37.2 °C")
    expect(page.get_by_test_id("status")).to_have_text("incoming")
    status_buttons = page.locator("button[data-status]")
    expect(status_buttons).to_have_count(1)
    expect(status_buttons).to_have_attribute("data-status", "arrived")

    # Doctors pick a colleague by name from GET /doctors.
    expect(
        page.locator("select#assign-doctor option", has_text=doctor.name)
    ).to_have_count(1)
    # One GET /doctors serves the pick list and the names on both patient pages.
    assert len(doctor_list_requests) <= 1, doctor_list_requests
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#notice")).to_contain_text("Assign to me: done.")
    page.get_by_role("button", name="Mark arrived").click()
    expect(page.get_by_test_id("status")).to_have_text("arrived")
    page.get_by_role("button", name="Mark in treatment").click()
    expect(page.get_by_test_id("status")).to_have_text("in treatment")
    expect(page.locator("button[data-status]")).to_have_count(4)
    page.fill("#note-text", "Nebuliser started <b>not bold</b>")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("ul.notes li")).to_have_count(1)
    expect(page.get_by_test_id("model-inputs")).to_have_text(MODEL_INPUTS)
    expect(page.get_by_test_id("news2-warnings")).to_have_count(0)
    expect(page.get_by_test_id("assigned-doctor")).to_have_text("you")
    history = page.get_by_test_id("history")
    expect(history.locator("li")).to_have_count(4)
    expect(history).to_contain_text("assigned doctor nobody -> you by you")
    expect(history).not_to_contain_text("usr_")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    shoot(page, "patient_detail")
    expect(page.locator(".note-text")).to_have_text("Nebuliser started <b>not bold</b>")

    stored = stack.db().patients.find_one({"_id": patient_id})
    assert stored["assigned_doctor_id"] == doctor.id
    assert stored["status"] == "in_treatment"
    assert stored["notes"][-1]["text"] == "Nebuliser started <b>not bold</b>"
    assert [
        entry["new"] for entry in stored["history"] if entry["field"] == "status"
    ] == [
        "arrived",
        "in_treatment",
    ]
    assert page.errors == []


def test_board_reconnects_after_dropped_socket(
    stack: Any, new_page, doctor, shoot
) -> None:
    """Close the doctor's websocket through @connections, as API Gateway may do."""
    page = new_page()
    ui_login(page, stack.base_url, doctor)
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-state", "connected")
    connections = stack.db().connections
    before = [doc["_id"] for doc in connections.find({"user_id": doctor.id})]
    assert len(before) == 1

    page.context.set_offline(True)
    management_url = stack.app_env["WEBSOCKET_MANAGEMENT_URL"]
    response = requests.delete(f"{management_url}/@connections/{before[0]}", timeout=5)
    assert response.status_code == 204
    expect(connection).to_have_attribute("data-state", "reconnecting")
    expect(connection).to_contain_text("Connection lost, retrying in")
    shoot(page, "board_reconnecting")

    page.context.set_offline(False)
    expect(connection).to_have_attribute("data-state", "connected")
    after = [doc["_id"] for doc in connections.find({"user_id": doctor.id})]
    assert len(after) == 1
    assert after != before


def test_pending_prediction_shown_as_pending(
    stack: Any, new_page, paramedic, doctor
) -> None:
    """A patient the prediction function has not scored yet, as the API stores it."""
    patient_id = post_patient(
        stack, paramedic, {**CRITICAL_VITALS, "chief_complaint": "Awaiting score"}
    )
    # Put the document back into the state submit_patient stores before scoring.
    stack.db().patients.update_one(
        {"_id": patient_id},
        {"$set": {"prediction": {"state": "pending", "attempts": 1}, "risk_sort": -1}},
    )

    page = new_page()
    ui_login(page, stack.base_url, doctor)
    row = page.locator(f"li[data-patient-id={patient_id}]")
    expect(row).to_have_attribute("data-risk", "pending")
    expect(row).to_contain_text("ICU risk pending")
    page.goto(f"{stack.base_url}/#/patients/{patient_id}")
    panel = page.locator("section[data-state=pending]")
    expect(panel.locator("h3")).to_have_text("ICU risk: prediction pending")
    expect(panel).to_contain_text("after 1 attempt(s)")
    expect(page.get_by_test_id("news2-total")).to_have_text("17")
