"""The queue overview: true counts, links that show the same numbers, partial failure, cost."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Page, expect

from dashboard.connection import client_for
from dashboard.sandbox.data import Case
from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk import CaseQuery
from dashboard.views.cases import agents
from tests.fixtures.browser import Watch, serious_violations

pytestmark = pytest.mark.django_db

CASES_PATH = "/cm/core/va/cases"
OPEN = {"NEW", "OPEN", "PENDING", "ON_HOLD"}
# 1 total + 16 status × priority + 30 agents + 5 ages + 3 staleness
CALLS_PER_OVERVIEW = 55


class Numbers(HTMLParser):
    """The overview's numbers: links (href, count, label) and the places marked missing."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, int, str]] = []
        self.derived: list[int] = []
        self.missing: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("class") == "count-link":
            self.links.append((a["href"] or "", int(a["data-count"] or ""), a["aria-label"] or ""))
        elif tag == "span" and a.get("class") == "count-derived":
            self.derived.append(int(a["data-count"] or ""))
        elif tag == "span" and a.get("class") == "missing":
            self.missing.append(a["data-missing"] or "")


def case_calls(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == CASES_PATH]


@pytest.fixture
def frozen() -> Iterator[datetime]:
    """One instant for the page, the links and the expected counts: relative ranges such as
    -3d then mean the same seconds everywhere. A whole second, as the wire carries."""
    moment = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        yield moment


def resolve(expression: str, now: datetime) -> int:
    days = re.fullmatch(r"-(\d+)d", expression)
    assert days, expression
    return int((now - timedelta(days=int(days[1]))).timestamp())


def true_count(cases: tuple[Case, ...], link: str, now: datetime) -> int:
    """What a /cases/ link must total, straight from the sandbox's data.

    Ranges are inclusive at both ends, as Talkdesk's [from, to] pairs are.
    """
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(link).query):
        params.setdefault(name, []).append(value)
    low_create = resolve(params["create_at_after"][0], now) if "create_at_after" in params else None
    high_create = (
        resolve(params["create_at_before"][0], now) if "create_at_before" in params else None
    )
    high_update = (
        resolve(params["update_at_before"][0], now) if "update_at_before" in params else None
    )
    return sum(
        1
        for case in cases
        if case.status in set(params["status"])
        and ("priority" not in params or case.priority in set(params["priority"]))
        and ("agent_id" not in params or (case.agent and case.agent.id == params["agent_id"][0]))
        and (low_create is None or case.create_ts >= low_create)
        and (high_create is None or case.create_ts <= high_create)
        and (high_update is None or case.update_ts <= high_update)
    )


def test_every_number_equals_the_true_count_of_its_link(
    manager_client: Client, sandbox: Sandbox, frozen: datetime
) -> None:
    response = manager_client.get("/queues/")
    assert response.status_code == 200
    numbers = Numbers(response.content.decode())
    assert not numbers.missing
    # 16 cells + 4 status totals + 4 priority totals + all open + 30 agents (some may have no
    # open case and are then only mentioned) + 5 ages + 3 staleness
    assert len(numbers.links) >= 1 + 16 + 8 + 5 + 3 + 20
    for link, count, label in numbers.links:
        assert link.startswith("/cases/?status=")
        assert count == true_count(sandbox.data.cases, link, frozen), (label, link)


def test_the_overview_has_every_section_with_the_true_figures(
    manager_client: Client, sandbox: Sandbox, frozen: datetime
) -> None:
    html = manager_client.get("/queues/").content.decode()
    numbers = {label: (link, count) for link, count, label in Numbers(html).links}
    open_cases = [case for case in sandbox.data.cases if case.status in OPEN]
    assert numbers[f"All open work: {len(open_cases):,} cases"][1] == len(open_cases)
    urgent_pending = sum(1 for c in open_cases if (c.status, c.priority) == ("PENDING", "URGENT"))
    assert numbers[f"Pending, Urgent: {urgent_pending:,} case{'s' * (urgent_pending != 1)}"]
    # Every open case has one of the four priorities here, so a status total is plain status=.
    new_total = sum(1 for c in open_cases if c.status == "NEW")
    assert numbers[f"New, any priority: {new_total:,} cases"][0] == "/cases/?status=NEW"
    by_agent: dict[str, int] = {}
    for case in open_cases:
        if case.agent:
            by_agent[case.agent.name] = by_agent.get(case.agent.name, 0) + 1
    agent_rows = [
        (label, count) for link, count, label in Numbers(html).links if "agent_id" in link
    ]
    assert sorted(count for _, count in agent_rows) == sorted(by_agent.values())
    assert [count for _, count in agent_rows] == sorted(by_agent.values(), reverse=True)
    unassigned = sum(1 for case in open_cases if case.agent is None)
    assert f'<span class="count-derived" data-count="{unassigned}">' in html
    assert "Talkdesk's API cannot filter for “no agent”" in html
    for words in ("Under 1 day", "1–3 days", "3–7 days", "7–30 days", "Over 30 days",
                  "No update in 1 day", "No update in 3 days", "No update in 7 days"):  # fmt: skip
        assert any(label.startswith(words + ":") for label in numbers), words


def test_each_drill_down_link_shows_the_same_total(
    manager_client: Client, frozen: datetime
) -> None:
    links = Numbers(manager_client.get("/queues/").content.decode()).links
    for link, count, label in links:
        page = manager_client.get(link).content.decode()
        shown = re.search(r'<section id="results"[^>]*data-total="(\d+)"', page)
        assert shown, link
        assert int(shown[1]) == count, (label, link)


def test_counts_are_asked_with_per_page_1_concurrently_and_cached_for_a_minute(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    agents(
        client_for(manager), manager.pk
    )  # the users list, cached for minutes, is not what this counts
    sandbox_requests.clear_requests()
    manager_client.get("/queues/")
    calls = case_calls(sandbox_requests)
    assert len(calls) == CALLS_PER_OVERVIEW
    assert all(dict(call.query)["per_page"] == "1" for call in calls)
    sandbox_requests.clear_requests()
    assert manager_client.get("/queues/").status_code == 200
    assert not case_calls(sandbox_requests)
    # "Refresh" asks Talkdesk again.
    manager_client.get("/queues/?refresh=1")
    assert len(case_calls(sandbox_requests)) == CALLS_PER_OVERVIEW


def test_the_users_list_is_fetched_alongside_the_counts_when_not_cached(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    manager_client.get("/queues/")
    paths = [request.path for request in sandbox_requests.requests]
    assert paths.count("/users") == 1 and paths.count(CASES_PATH) == CALLS_PER_OVERVIEW


def test_a_partial_failure_shows_the_numbers_it_has_and_marks_the_missing_ones(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    sandbox_requests.fail_next(5, "500", path_prefix=CASES_PATH)
    response = manager_client.get("/queues/")
    assert response.status_code == 200
    html = response.content.decode()
    numbers = Numbers(html)
    assert numbers.missing.count("direct") == 5
    assert "5 of 55 numbers could not be fetched from Talkdesk" in html
    assert len(numbers.links) + numbers.missing.count("direct") >= 40
    # What failed is not cached: the next look asks for exactly those again.
    sandbox_requests.clear_requests()
    again = Numbers(manager_client.get("/queues/").content.decode())
    assert len(case_calls(sandbox_requests)) == 5 and not again.missing


def test_when_every_count_fails_the_page_still_explains(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    sandbox_requests.fail_next(100, "500", path_prefix=CASES_PATH)
    response = manager_client.get("/queues/")
    assert response.status_code == 502
    html = response.content.decode()
    assert "55 of 55 numbers could not be fetched" in html and "Queue overview" in html
    assert not Numbers(html).links


def test_without_a_talkdesk_connection_it_explains_and_calls_nothing(
    stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    response = stranger_client.get("/queues/")
    assert response.status_code == 200
    assert "Connect Talkdesk to see the queues" in response.content.decode()
    assert not sandbox_requests.requests


def test_anonymous_people_are_sent_to_sign_in(db: None) -> None:
    response = Client().get("/queues/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_minutely_refresh_gets_only_the_overview_fragment(
    manager_client: Client, htmx: dict[str, str]
) -> None:
    page = manager_client.get("/queues/").content.decode()
    assert 'hx-trigger="refresh-visible"' in page and "/static/js/views." in page
    assert "every 60s" not in page  # htmx's filter syntax needs eval, which the CSP forbids
    fragment = manager_client.get("/queues/", headers=htmx).content.decode()
    assert fragment.lstrip().startswith('<section id="queue-overview"')
    assert "<html" not in fragment


def test_one_overview_costs_about_one_round_trip(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    """The measurement behind the pool's size: the whole overview against one call."""
    client = client_for(manager)
    agents(
        client, manager.pk
    )  # users cached, as they are for all but the first overview in 5 minutes
    client.list_cases(CaseQuery(per_page=1))  # a warm connection for the single call too
    sandbox_requests.latency_ms = 100
    started = time.perf_counter()
    client.list_cases(CaseQuery(per_page=1, status=tuple(OPEN)))
    one_call = time.perf_counter() - started
    manager_client.get("/queues/")  # warm the pool's connections, as a running server has them
    sandbox_requests.clear_requests()

    started = time.perf_counter()
    response = manager_client.get("/queues/?refresh=1")
    overview = time.perf_counter() - started

    assert response.status_code == 200 and not Numbers(response.content.decode()).missing
    calls = len(case_calls(sandbox_requests))
    print(
        f"\nqueue overview: {calls} upstream calls, {overview * 1000:.0f} ms; "
        f"one call {one_call * 1000:.0f} ms; ratio {overview / one_call:.2f} "
        f"(sandbox latency {sandbox_requests.latency_ms} ms)"
    )
    assert calls == CALLS_PER_OVERVIEW
    # Generous for a busy test machine; the report quotes the printed figures.
    assert overview < 4 * one_call


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_overview_refreshes_itself_within_the_csp(
    signed_in_page: tuple[Page, Watch],
    sandbox: Sandbox,
) -> None:
    page, watch = signed_in_page
    page.goto("/queues/")
    total = sum(1 for case in sandbox.data.cases if case.status in OPEN)
    expect(page.locator(".summary-line")).to_contain_text(f"{total:,} open cases")
    assert serious_violations(page) == []
    # What static/js/views.js sends every minute while the tab is visible.
    with page.expect_response(lambda response: response.url.endswith("/queues/")) as refresh:
        page.evaluate("htmx.trigger(document.getElementById('queue-overview'), 'refresh-visible')")
    assert refresh.value.status == 200
    expect(page.locator("#queue-overview .count-link").first).to_be_visible()
    page.locator("#queue-overview .count-link").first.click()
    expect(page).to_have_url(re.compile(r"/cases/\?status="))
    assert watch.problems == []
