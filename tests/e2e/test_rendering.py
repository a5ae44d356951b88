"""Markdown rendering and keyboard use, checked in the browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MARKDOWN = """# Title <img src=x onerror="window.__xss = 1">

A paragraph with **bold**, *italics*, `code` and [a link](javascript:alert(1)).

| metric | value |
|---|---|
| AUROC | <b>0.80</b> |

- first
- second <script>window.__xss = 1</script>

1. one
2. two

![roc curve](plots/roc.png)
"""


def test_markdown_renders_structure_as_text(stack: Any, new_page) -> None:
    page = new_page()
    page.goto(f"{stack.base_url}/#/login")
    counts = page.evaluate(
        """async (source) => {
          const { renderMarkdown } = await import('/js/markdown.js');
          const used = new Set();
          const box = document.createElement('div');
          box.id = 'rendered';
          box.append(renderMarkdown(source, {roc: 'data:image/png;base64,AAAA'}, used));
          document.body.append(box);
          return {
            used: [...used],
            scripts: box.querySelectorAll('script').length,
            bold: box.querySelectorAll('b').length,
          };
        }""",
        MARKDOWN,
    )
    rendered = page.locator("#rendered")
    expect(rendered.locator("h2")).to_have_text(
        'Title <img src=x onerror="window.__xss = 1">'
    )
    expect(rendered.locator("p strong")).to_have_text("bold")
    expect(rendered.locator("p em")).to_have_text("italics")
    expect(rendered.locator("p code")).to_have_text("code")
    expect(rendered.locator("a")).to_have_count(0)
    expect(rendered.locator("td").nth(1)).to_have_text("<b>0.80</b>")
    expect(rendered.locator("ul li")).to_have_count(2)
    expect(rendered.locator("ol li")).to_have_count(2)
    expect(rendered.locator("img")).to_have_attribute(
        "src", "data:image/png;base64,AAAA"
    )
    assert counts["used"] == ["roc"]
    assert counts["scripts"] == 0
    assert counts["bold"] == 0
    assert page.evaluate("window.__xss") is None


def test_login_works_with_keyboard_only(stack: Any, new_page, paramedic) -> None:
    page = new_page()
    page.goto(f"{stack.base_url}/#/login")
    expect(page.locator("#login-email")).to_be_focused()
    page.keyboard.type(paramedic.email)
    page.keyboard.press("Tab")
    page.keyboard.type(paramedic.password)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("New patient")
    expect(page.locator("#nav a[aria-current=page]")).to_have_text("New patient")


def test_bar_chart_titles_and_empty_state(stack: Any, new_page) -> None:
    page = new_page()
    page.goto(f"{stack.base_url}/#/login")
    page.evaluate(
        """async () => {
          const { barChart } = await import('/js/charts.js');
          const rows = (values) => values.map(([label, value]) => (
            {label, value, className: `risk-${label.toLowerCase()}`}));
          const title = 'ICU risk levels';
          document.body.append(
            barChart(rows([['Low', 0], ['High', 0]]), {title, testid: 'empty'}),
            barChart(rows([['Low', 4], ['High', 2]]), {title, testid: 'full'}),
          );
        }"""
    )
    empty = page.get_by_test_id("empty")
    expect(empty.locator("figcaption")).to_have_text("ICU risk levels")
    expect(empty).to_contain_text("No patients yet")
    expect(empty.locator("svg")).to_have_count(0)
    full = page.get_by_test_id("full")
    expect(full.locator("svg")).to_have_attribute(
        "aria-label", "ICU risk levels: Low 4, High 2"
    )
    widths = full.locator("rect").evaluate_all(
        "bars => bars.map(bar => Number(bar.getAttribute('width')))"
    )
    assert widths == [170, 85]
    fills = full.locator("rect").evaluate_all(
        "bars => bars.map(bar => getComputedStyle(bar).fill)"
    )
    assert fills == ["rgb(30, 123, 52)", "rgb(188, 76, 0)"]
