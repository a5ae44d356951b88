"""Browser fixtures: Debian's Chromium through Playwright, accounts and screenshots.

The ``stack`` fixture (tests/conftest.py) starts the embedded platform. Accounts are
created through the real API as the bootstrap admin, never written to the database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The critical alert beeps without a click first; real users click "Log in".
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


@dataclass
class Account:
    """A user created for the browser tests, with the password used to log in."""

    id: str
    email: str
    password: str
    role: str
    name: str


def api_login(api_url: str, email: str, password: str) -> dict[str, Any]:
    response = requests.post(
        f"{api_url}/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def create_account(stack: Any, role: str, label: str) -> Account:
    """Create a user through POST /users as the bootstrap admin."""
    admin = api_login(stack.api_url, stack.admin_email, stack.admin_password)
    email = f"{label}-{uuid.uuid4().hex[:8]}@hospital.example"
    password = f"pw-{uuid.uuid4().hex}"
    name = f"{label.title()} {email[: -len('@hospital.example')][-8:]}"
    response = requests.post(
        f"{stack.api_url}/users",
        json={"email": email, "name": name, "role": role, "password": password},
        headers={"Authorization": f"Bearer {admin['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return Account(response.json()["id"], email, password, role, name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; install it with `make browser`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def paramedic(stack: Any) -> Account:
    return create_account(stack, "PARAMEDIC", "paramedic")


@pytest.fixture(scope="session")
def doctor(stack: Any) -> Account:
    return create_account(stack, "DOCTOR", "doctor")


@pytest.fixture(scope="session")
def admin(stack: Any) -> Account:
    tokens = api_login(stack.api_url, stack.admin_email, stack.admin_password)
    user = tokens["user"]
    return Account(
        user["id"], stack.admin_email, stack.admin_password, "ADMIN", user["name"]
    )


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    if SCREENSHOT_DIR.exists():
        shutil.rmtree(SCREENSHOT_DIR)
    SCREENSHOT_DIR.mkdir(parents=True)
    return SCREENSHOT_DIR


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open pages in separate browser contexts (separate sessionStorage per user)."""
    contexts: list[BrowserContext] = []

    def open_page(viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def page_width(page: Page) -> int:
    """Width of the document in CSS px; above the viewport the page scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[[Page, str], list[Path]]:
    """Save full-page screenshots of `page` at 375x812 and 1280x800.

    Fails when the page is wider than the viewport at either size, so every page
    that a test photographs is also checked for sideways scrolling.
    """

    def save(page: Page, name: str) -> list[Path]:
        original = page.viewport_size
        paths = []
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            page.wait_for_timeout(150)
            path = screenshot_dir / f"{name}_{size['width']}x{size['height']}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
            width = page_width(page)
            assert width <= size["width"], (
                f"{name}: page is {width} px wide at {size['width']} px"
            )
        if original:
            page.set_viewport_size(original)
        return paths

    return save


def ui_login(page: Page, base_url: str, account: Account) -> None:
    """Log in through the login form and wait for the role's home page."""
    page.goto(f"{base_url}/#/login")
    page.fill("#login-email", account.email)
    page.fill("#login-password", account.password)
    page.click("button[type=submit]")
    page.wait_for_selector("#nav a")
