"""The pages in a real headless Chromium (fixtures in tests/fixtures/browser.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from dashboard.sandbox.server import Sandbox
from tests.conftest import PASSWORD
from tests.fixtures.browser import Watch, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row_count(page: Page) -> int:
    return page.locator("#case-table tbody tr").count()


def test_the_whole_oauth_round_trip_in_a_browser(
    browser_page: tuple[Page, Watch], app_url: str, sandbox: Sandbox, settings: Any
) -> None:
    page, watch = browser_page
    settings.TALKDESK_REDIRECT_URI = f"{app_url}/talkdesk/callback/"
    sandbox.register_redirect_uri(settings.TALKDESK_REDIRECT_URI)
    User.objects.create_user("sam", password=PASSWORD)
    page.goto("/cases/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("form.stack button[type=submit]")
    expect(page.get_by_text("Connect Talkdesk to see your cases")).to_be_visible()
    page.locator("#results").get_by_role("link", name="Connect Talkdesk").click()
    page.get_by_label(re.compile(sandbox.data.agents[3].name)).check()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Connected as {sandbox.data.agents[3].name}")).to_be_visible()
    expect(page.locator("#case-table tbody tr").first).to_be_visible()
    assert watch.problems == []


def test_a_filter_change_updates_table_and_url_without_a_reload_and_back_restores(
    signed_in_page: tuple[Page, Watch], sandbox: Sandbox
) -> None:
    page, watch = signed_in_page
    page.evaluate("window.__stillTheSamePage = true")
    expect(page.locator(".result-count")).to_contain_text(f"of {len(sandbox.data.cases):,}")

    page.locator("summary", has_text="Status").click()
    page.get_by_label("Open", exact=True).check()
    expect(page).to_have_url(re.compile(r"status=OPEN"))
    open_total = sum(1 for case in sandbox.data.cases if case.status == "OPEN")
    expect(page.locator(".result-count")).to_contain_text(f"of {open_total:,}")
    assert page.evaluate("window.__stillTheSamePage") is True
    expect(page.locator(".chip", has_text="Open")).to_be_visible()

    page.fill("#id_title", "refund")
    expect(page).to_have_url(re.compile(r"title=refund"))
    expect(page.locator("#summary")).to_contain_text("Title contains: refund")

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"title=refund"))
    expect(page.locator(".result-count")).to_contain_text(f"of {open_total:,}")
    assert watch.problems == []


def test_the_pager_and_a_chip_work_in_place(signed_in_page: tuple[Page, Watch]) -> None:
    page, watch = signed_in_page
    page.goto("/cases/?status=CLOSED&per_page=25")
    first_id = page.locator("#case-table tbody tr").first.get_attribute("data-case")
    page.locator(".pager").first.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator(".result-count")).to_contain_text("26–50")
    assert page.locator("#case-table tbody tr").first.get_attribute("data-case") != first_id
    page.get_by_role("link", name="Remove filter Status: Closed").click()
    expect(page).not_to_have_url(re.compile(r"status=CLOSED"))
    expect(page.locator(".chip")).to_have_count(0)
    assert row_count(page) == 25
    assert watch.problems == []


def test_the_detail_panel_opens_from_a_row_and_closes_with_escape(
    signed_in_page: tuple[Page, Watch],
) -> None:
    page, watch = signed_in_page
    page.goto("/cases/?status=OPEN")
    first = page.locator("#case-table tbody tr").first
    case_id = first.get_attribute("data-case")
    first.locator("td.col-status").click()
    panel = page.locator("#detail-panel")
    expect(panel).to_contain_text(f"#{case_id}")
    expect(panel).to_contain_text("Other cases from this requester")
    expect(page).to_have_url(re.compile(rf"case={case_id}"))
    assert row_count(page) > 0, "the list stays"
    assert serious_violations(page) == []
    page.keyboard.press("Escape")
    expect(panel).to_be_empty()
    expect(page).not_to_have_url(re.compile(r"case="))
    assert watch.problems == []


def test_keyboard_moves_between_rows_opens_and_focuses_search(
    signed_in_page: tuple[Page, Watch],
) -> None:
    page, watch = signed_in_page
    page.goto("/cases/?per_page=25")
    page.locator("body").press("j")
    page.keyboard.press("j")
    second = page.locator("#case-table tbody tr").nth(1)
    expect(second).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("#case-table tbody tr").first).to_be_focused()
    page.keyboard.press("Enter")
    case_id = page.locator("#case-table tbody tr").first.get_attribute("data-case")
    expect(page.locator("#detail-panel")).to_contain_text(f"#{case_id}")
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#id_title")).to_be_focused()
    assert watch.problems == []


def test_an_upstream_failure_shows_its_message_with_a_retry_that_works(
    signed_in_page: tuple[Page, Watch], sandbox: Sandbox
) -> None:
    page, watch = signed_in_page
    sandbox.fail_next(1, "500", path_prefix="/cm/core/va/cases")
    page.locator("summary", has_text="Priority").click()
    page.get_by_label("Urgent").check()
    error = page.locator("#results .state-error")
    expect(error).to_contain_text("Talkdesk could not answer")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Try again").click()
    expect(page.locator(".result-count")).to_be_visible()
    # The 502 itself is logged by the browser as a failed resource; nothing else may be.
    assert [p for p in watch.problems if "502" not in p] == []


def test_the_case_browser_has_no_serious_accessibility_violations(
    signed_in_page: tuple[Page, Watch],
) -> None:
    page, watch = signed_in_page
    page.goto("/cases/?status=OPEN&priority=HIGH")
    assert serious_violations(page) == []
    page.locator("summary", has_text="+ Filter").click()
    assert serious_violations(page) == []
    assert watch.problems == []


def test_invalid_input_shows_the_error_beside_the_field(signed_in_page: tuple[Page, Watch]) -> None:
    page, watch = signed_in_page
    page.locator("summary", has_text="+ Filter").click()
    page.fill("#id_requester_phone", "1" * 25)
    page.locator("#id_requester_phone").evaluate("el => el.removeAttribute('maxlength')")
    page.fill("#id_requester_phone", "1" * 25)
    expect(page.locator("#results")).to_contain_text("Some filters need fixing")
    expect(page.locator("#results")).to_contain_text("Requester phone")
    assert [p for p in watch.problems if "400" not in p] == []


def test_the_agent_picker_narrows_as_you_type_and_filters_by_agent_id(
    signed_in_page: tuple[Page, Watch], sandbox: Sandbox
) -> None:
    page, watch = signed_in_page
    agent = sandbox.data.agents[5]
    page.locator("summary", has_text="Agent").click()
    page.fill("#agent-search", agent.name.split()[0].lower())
    options = page.locator("#agent-options label:visible")
    assert 1 < options.count() < len(sandbox.data.agents)
    page.get_by_label(agent.name, exact=True).check()
    expect(page).to_have_url(re.compile(rf"agent_id={agent.id}"))
    assigned = sum(1 for case in sandbox.data.cases if case.agent and case.agent.id == agent.id)
    expect(page.locator(".result-count")).to_contain_text(f"of {assigned:,}")
    expect(page.locator(".chip", has_text=agent.name)).to_be_visible()
    assert watch.problems == []
