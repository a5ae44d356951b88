"""Admin pages and session handling."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ui_login

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
        json={"email": email, "password": "a-long-enough-password"},
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
    shoot(page, "model_card")


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
