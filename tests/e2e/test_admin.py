"""Admin pages and session handling."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, api_login, page_width, ui_login

pytestmark = pytest.mark.e2e

SESSION_JS = "JSON.parse(sessionStorage.getItem('triage.session'))"


def test_admin_creates_user_who_can_log_in(stack: Any, new_page, admin, shoot) -> None:
    page = new_page()
    ui_login(page, stack.base_url, admin)
    page.click("#nav a[href='#/users']")
    email = f"new-doctor-{uuid.uuid4().hex[:8]}@hospital.example"
    page.fill("#new-email", email)
    page.fill("#new-name", "Dr. <script>alert(1)</script>")
    page.select_option("#new-role", "DOCTOR")
    page.fill("#new-password", "short")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#new-password-error")).to_have_text(
        "Use at least 12 characters."
    )

    page.fill("#new-password", "a-long-enough-password")
    page.get_by_role("button", name="Create user").click()
    row = page.locator(f"tr[data-email='{email}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Dr. <script>alert(1)</script>")
    stored = stack.db().users.find_one({"email": email})
    assert stored["role"] == "DOCTOR"
    assert stored["active"] is True
    shoot(page, "users")

    # Five wrong passwords lock the account; a reset unlocks it.
    for _ in range(5):
        failed = requests.post(
            f"{stack.api_url}/auth/login",
            json={"email": email, "password": "wrong-password-123"},
            timeout=10,
        )
        assert failed.status_code == 401
    page.click("#nav a[href='#/board']")
    page.click("#nav a[href='#/users']")
    expect(row.get_by_test_id("locked")).to_have_text("Locked")
    row.get_by_role("button", name="Reset password").click()
    row.locator("input[type=password]").fill("too-short")
    row.get_by_role("button", name="Save password").click()
    expect(row.locator(".reset-form .field-error")).to_have_text(
        "Use at least 12 characters."
    )
    row.locator("input[type=password]").fill("a-new-long-password")
    row.get_by_role("button", name="Save password").click()
    expect(page.locator("#notice")).to_contain_text(f"Password reset: {email}.")
    expect(row.get_by_test_id("locked")).to_have_count(0)
    api_login(stack.api_url, email, "a-new-long-password")

    row.locator("select").select_option("PARAMEDIC")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator(f"tr[data-email='{email}'] select")).to_have_value("PARAMEDIC")
    page.locator(f"tr[data-email='{email}']").get_by_role(
        "button", name="Deactivate"
    ).click()
    expect(page.locator(f"tr[data-email='{email}']")).to_contain_text("deactivated")
    stored = stack.db().users.find_one({"email": email})
    assert stored["role"] == "PARAMEDIC"
    assert not stored["active"]
    login = requests.post(
        f"{stack.api_url}/auth/login",
        json={"email": email, "password": "a-new-long-password"},
        timeout=10,
    )
    assert login.status_code == 401


def test_model_card_renders_markdown_and_plots(
    stack: Any, new_page, admin, shoot
) -> None:
    page = new_page()
    ui_login(page, stack.base_url, admin)
    page.click("#nav a[href='#/model-card']")
    card = page.get_by_test_id("model-card")
    expect(card.locator("h2").first).to_be_visible()
    assert card.locator("table").count() >= 1
    plots = page.locator("img.plot")
    expect(plots.first).to_be_visible()
    assert plots.count() >= 1
    assert plots.first.get_attribute("src").startswith("data:image/png;base64,")
    widths = plots.evaluate_all("images => images.map(image => image.naturalWidth)")
    assert all(width > 0 for width in widths)
    # Cells with numbers stay on one line; wide tables scroll inside their box.
    numbers = card.locator("td.nowrap")
    assert numbers.count() >= 1
    lines = numbers.evaluate_all(
        """cells => cells.map(cell => {
          const range = document.createRange();
          range.selectNodeContents(cell);
          const tops = [...range.getClientRects()].map(rect => Math.round(rect.top));
          return [getComputedStyle(cell).whiteSpace, new Set(tops).size];
        })"""
    )
    assert {tuple(line) for line in lines} == {("nowrap", 1)}
    shoot(page, "model_card")


def test_audit_log_filters_and_pages(
    stack: Any, new_page, admin, paramedic, doctor, shoot
) -> None:
    tokens = api_login(stack.api_url, paramedic.email, paramedic.password)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = requests.post(
        f"{stack.api_url}/patients",
        json={
            "age": 50,
            "sex": "female",
            "heart_rate": 80,
            "respiratory_rate": 16,
            "spo2": 97,
            "supplemental_oxygen": False,
            "systolic_bp": 120,
            "consciousness": "A",
        },
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    patient_id = response.json()["id"]
    # 1 create + 55 reads: two pages of 50 for this patient.
    for _ in range(55):
        read = requests.get(
            f"{stack.api_url}/patients/{patient_id}", headers=headers, timeout=10
        )
        assert read.status_code == 200

    doctor_tokens = api_login(stack.api_url, doctor.email, doctor.password)
    assigned = requests.post(
        f"{stack.api_url}/patients/{patient_id}/assign",
        json={"doctor_id": doctor.id},
        headers={"Authorization": f"Bearer {doctor_tokens['access_token']}"},
        timeout=10,
    )
    assert assigned.status_code == 200, assigned.text

    page = new_page()
    ui_login(page, stack.base_url, admin)
    page.click("#nav a[href='#/audit']")
    expect(page.locator("h1")).to_have_text("Audit log")
    page.fill("#audit-patient", "not-an-id")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#audit-patient-error")).to_contain_text("pat_")
    page.fill("#audit-patient", patient_id)
    page.select_option("#audit-user", paramedic.id)
    page.get_by_role("button", name="Apply filters").click()
    log = page.get_by_test_id("audit")
    expect(log.locator("caption")).to_have_text("56 entries")
    expect(page.get_by_test_id("audit-page")).to_have_text("Page 1 of 2")
    expect(log.locator("tbody tr")).to_have_count(50)
    first = log.locator("tbody tr").first
    expect(first.locator("td[data-label=User]")).to_have_text(paramedic.name)
    expect(first.locator("td[data-label=Role]")).to_have_text("PARAMEDIC")
    # Words and actions do not break across lines at 1280 px.
    for label in ("Role", "Action"):
        text_lines = first.locator(f"td[data-label={label}]").evaluate(
            """cell => {
              const range = document.createRange();
              range.selectNodeContents(cell);
              return range.getClientRects().length;
            }"""
        )
        assert text_lines == 1, label
    expect(first.locator("td[data-label=Patient] a")).to_have_attribute(
        "href", f"#/patients/{patient_id}"
    )
    expect(log).not_to_contain_text(paramedic.id)
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_test_id("audit-page")).to_have_text("Page 2 of 2")
    expect(log.locator("tbody tr")).to_have_count(6)
    expect(log.locator("tr[data-action='patient.create']")).to_have_count(1)
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    shoot(page, "audit")

    # The patient link opens the history with names from GET /users.
    first.locator("td[data-label=Patient] a").click()
    history = page.get_by_test_id("history")
    expect(history).to_have_text(
        re.compile(f"assigned doctor nobody -> {doctor.name} by {doctor.name}$")
    )
    expect(page.get_by_test_id("assigned-doctor")).to_have_text(doctor.name)
    assert page.errors == []


def test_rejected_tokens_end_session_with_message(
    stack: Any, new_page, admin, shoot
) -> None:
    page = new_page()
    page.goto(f"{stack.base_url}/#/login")
    shoot(page, "login")
    ui_login(page, stack.base_url, admin)
    page.evaluate(
        """() => {
          const session = JSON.parse(sessionStorage.getItem('triage.session'));
          session.accessToken = 'invalid';
          session.refreshToken = 'invalid';
          sessionStorage.setItem('triage.session', JSON.stringify(session));
        }"""
    )
    # The board, the admin's home page, calls the API at once: the 401 and the
    # rejected refresh token must end the session.
    page.reload()
    expect(page.get_by_test_id("login-message")).to_contain_text("Your session expired")
    expect(page.locator("#nav a")).to_have_count(0)


def test_access_token_refreshed_before_expiry(stack: Any, new_page, doctor) -> None:
    page = new_page()
    ui_login(page, stack.base_url, doctor)
    expect(page.get_by_test_id("stats")).to_be_visible()
    refreshes: list[str] = []
    page.on(
        "request",
        lambda request: (
            refreshes.append(request.url)
            if request.url.endswith("/auth/refresh")
            else None
        ),
    )
    old_token = page.evaluate(
        """() => {
          const session = JSON.parse(sessionStorage.getItem('triage.session'));
          session.accessExpiresAt = Date.now() + 20000;
          sessionStorage.setItem('triage.session', JSON.stringify(session));
          return session.accessToken;
        }"""
    )
    page.reload()
    page.wait_for_function(
        f"old => {SESSION_JS}.accessToken !== old",
        arg=old_token,
    )
    expect(page.get_by_test_id("stats")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Board")
    assert len(refreshes) == 1
    expires_in = page.evaluate(f"{SESSION_JS}.accessExpiresAt - Date.now()")
    assert expires_in > 60_000
