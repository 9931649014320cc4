"""Saved and shared views: saving, who may do what, opening with one's own token, the sidebar."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.template import engines
from django.test import Client, RequestFactory
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.connection import client_for
from dashboard.models import SavedView, SavedViewVisit
from dashboard.sandbox.server import Sandbox
from tests.conftest import signed_in
from tests.fixtures.browser import Watch, serious_violations

pytestmark = pytest.mark.django_db

CASES_PATH = "/cm/core/va/cases"


def case_calls(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == CASES_PATH]


def save(client: Client, query: str, name: str = "My view", **fields: str) -> HttpResponse:
    data = {"name": name, "query": query, "visibility": "private", "pinned": "1", **fields}
    response: HttpResponse = client.post("/views/", data)
    return response


def a_view(
    owner: User, visibility: str = "private", group: Group | None = None, **kw: Any
) -> SavedView:
    return SavedView.objects.create(
        owner=owner,
        name=kw.pop("name", f"{visibility} view"),
        slug=kw.pop("slug", f"{visibility}-view-abc123"),
        parameters=kw.pop("parameters", {"status": ["OPEN", "PENDING"], "update_at_after": "-7d"}),
        visibility=visibility,
        group=group,
    )


def location_pairs(response: HttpResponse) -> list[tuple[str, str]]:
    assert response.status_code == 302, response.content.decode()[:500]
    return parse_qsl(urlsplit(response["Location"]).query, keep_blank_values=True)


def as_lists(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def texts_of_messages(response: HttpResponse) -> list[str]:
    """The messages waiting after this response (unread ones from earlier requests first)."""
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def team(colleague: User) -> Group:
    """A team the colleague belongs to and the stranger does not."""
    group = Group.objects.create(name="Team B")
    colleague.groups.add(group)
    return group


# --- saving and round trips ------------------------------------------------------------------


def test_saving_keeps_the_accepted_parameters_as_written_and_drops_the_rest(
    manager: User, manager_client: Client
) -> None:
    checkbox = next(f for f in client_for(manager).list_case_fields() if f.kind == "checkbox")
    query = (
        "status=open&status=PENDING&priority=HIGH&update_at_after=-7d&ids=12,13&title=refund"
        f"&cf_{checkbox.key}=yes&order_by=update_at&sort=ASC&columns=id,title,status"
        "&page=3&case=12&refresh=1&utm_source=chat&agent_name="
    )
    response = save(manager_client, query, name="Open refunds")
    view = SavedView.objects.get()
    assert view.parameters == {
        "ids": "12,13",
        "title": "refund",
        "status": ["open", "PENDING"],
        "priority": "HIGH",
        "update_at_after": "-7d",
        "order_by": "update_at",
        "sort": "ASC",
        f"cf_{checkbox.key}": "yes",
        "columns": "id,title,status",
    }
    assert view.owner == manager and view.name == "Open refunds"
    assert view.slug.startswith("open-refunds-")
    # Saving lands on the saved filters, with a word about where the view lives.
    assert response["Location"].startswith("/cases/?ids=12%2C13&title=refund&status=open")
    assert any(f"/views/{view.slug}/" in text for text in texts_of_messages(response))
    visit = SavedViewVisit.objects.get(user=manager, view=view)
    assert visit.pinned and visit.last_seen_at is not None


@pytest.mark.parametrize(
    "query",
    [
        "status=OPEN",
        "status=new&status=On-hold&priority=URGENT&priority=high",
        "update_at_before=-3d&order_by=update_at&sort=ASC",
        "create_at_after=2024-05-01&create_at_before=2024-05-31T18:00&per_page=100",
        "agent_id=abc123&requester_type=contact&requester_phone=%2B15550100123",
        "about=Billing&about=Shipping+%26+delivery&type=question&columns=id,title,updated",
        "ids=12&ids=15&description=voicemail%20left",
        "title=caf%C3%A9%20%E2%80%9Cquoted%E2%80%9D%20%3Cb%3E",
    ],
)
def test_a_saved_view_opens_with_exactly_the_parameters_it_was_saved_with(
    manager_client: Client, query: str
) -> None:
    save(manager_client, query)
    view = SavedView.objects.get()
    opened = manager_client.get(f"/views/{view.slug}/")
    # The same parameters with the same values in the same order per name; the names come in
    # the form's order (a JSON object keeps none on PostgreSQL).
    assert as_lists(location_pairs(opened)) == as_lists(parse_qsl(query, keep_blank_values=True))
    assert not any("no longer apply" in text for text in texts_of_messages(opened))


def test_saving_refuses_filters_the_case_browser_refuses_and_says_why(
    manager_client: Client,
) -> None:
    response = save(manager_client, "status=SLEEPING&page=2")
    assert response.status_code == 302
    assert response["Location"] == "/cases/?status=SLEEPING&page=2"
    (text,) = texts_of_messages(response)
    assert "not saved" in text and "Status" in text and "SLEEPING" in text
    assert not SavedView.objects.exists()


def test_saving_refuses_a_custom_field_talkdesk_does_not_have(manager_client: Client) -> None:
    response = save(manager_client, "status=OPEN&cf_nosuchfield9=1")
    assert "nosuchfield9" in texts_of_messages(response)[0]
    assert not SavedView.objects.exists()


def test_saving_needs_a_name_and_a_team_when_shared_with_a_team(
    manager: User, manager_client: Client
) -> None:
    assert "not saved" in texts_of_messages(save(manager_client, "status=OPEN", name=" "))[0]
    refused = save(manager_client, "status=OPEN", visibility="group")
    assert "Choose the team" in texts_of_messages(refused)[-1]
    # A team one is not in is not on offer.
    outsider_team = Group.objects.create(name="Not mine")
    refused = save(manager_client, "status=OPEN", visibility="group", group=str(outsider_team.pk))
    assert "not saved" in texts_of_messages(refused)[-1]
    assert not SavedView.objects.exists()


def test_a_view_shared_with_a_team_is_saved_with_that_team(
    manager: User, manager_client: Client, team: Group
) -> None:
    manager.groups.add(team)
    save(manager_client, "status=OPEN", visibility="group", group=str(team.pk))
    view = SavedView.objects.get()
    assert (view.visibility, view.group) == ("group", team)


# --- who may do what ---------------------------------------------------------------------------

ACTIONS = ("open", "duplicate", "pin", "edit", "update", "delete")
OWNER_ONLY = {"edit", "update", "delete"}


def act(client: Client, action: str, slug: str) -> HttpResponse:
    url = f"/views/{slug}/" if action == "open" else f"/views/{slug}/{action}/"
    if action == "open":
        response: HttpResponse = client.get(url)
        return response
    data = {
        "edit": {"name": "Renamed", "visibility": "private"},
        "update": {"query": "status=CLOSED"},
        "pin": {"pinned": "1"},
    }.get(action, {})
    response = client.post(url, data)
    return response


@pytest.mark.parametrize("visibility", ["private", "group", "everyone"])
@pytest.mark.parametrize("actor", ["owner", "team member", "other user", "anonymous"])
@pytest.mark.parametrize("action", ACTIONS)
def test_visibility_matrix(
    manager: User,
    colleague: User,
    stranger: User,
    team: Group,
    visibility: str,
    actor: str,
    action: str,
) -> None:
    manager.groups.add(team)
    view = a_view(manager, visibility, team if visibility == "group" else None)
    client = {
        "owner": signed_in(manager),
        "team member": signed_in(colleague),
        "other user": signed_in(stranger),
        "anonymous": Client(),
    }[actor]
    can_see = (
        actor == "owner"
        or visibility == "everyone"
        or (visibility == "group" and actor == "team member")
    )

    response = act(client, action, view.slug)

    if actor == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif not can_see:
        assert response.status_code == 404
    elif action in OWNER_ONLY and actor != "owner":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
    changed = actor == "owner" and action in OWNER_ONLY
    if not changed:
        view.refresh_from_db()
        assert (view.name, view.parameters["status"]) == (
            f"{visibility} view",
            ["OPEN", "PENDING"],
        )
    duplicated = action == "duplicate" and can_see and actor != "anonymous"
    assert SavedView.objects.exclude(pk=view.pk).exists() == duplicated


@pytest.mark.parametrize(
    ("actor", "sees"),
    [
        ("owner", {"private view", "group view", "everyone view"}),
        ("team member", {"group view", "everyone view"}),
        ("other user", {"everyone view"}),
    ],
)
def test_the_list_shows_my_views_and_those_shared_with_me_only(
    manager: User, colleague: User, stranger: User, team: Group, actor: str, sees: set[str]
) -> None:
    manager.groups.add(team)
    for visibility in ("private", "group", "everyone"):
        a_view(manager, visibility, team if visibility == "group" else None)
    user = {"owner": manager, "team member": colleague, "other user": stranger}[actor]
    page = signed_in(user).get("/views/").content.decode()
    shown = {name for name in ("private view", "group view", "everyone view") if name in page}
    assert shown == sees
    if actor != "owner":
        assert "No saved views yet" in page and "by Ana Ruiz" in page
        assert "/edit/" not in page and "/delete/" not in page


def test_anonymous_people_are_sent_to_sign_in_for_the_list_and_the_sidebar(db: None) -> None:
    for url in ("/views/", "/views/sidebar/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_changes_are_posts_with_a_csrf_token(manager: User) -> None:
    view = a_view(manager)
    client = signed_in(manager)
    for action in ("edit", "update", "delete", "duplicate", "pin"):
        assert client.get(f"/views/{view.slug}/{action}/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    assert strict.post(f"/views/{view.slug}/delete/").status_code == 403
    assert SavedView.objects.filter(pk=view.pk).exists()


# --- the owner's changes, anyone's copy ---------------------------------------------------------


def test_renaming_and_resharing_keep_the_link(
    manager: User, manager_client: Client, team: Group
) -> None:
    manager.groups.add(team)
    view = a_view(manager)
    response = manager_client.post(
        f"/views/{view.slug}/edit/",
        {"name": "Team queue", "visibility": "group", "group": str(team.pk)},
    )
    assert response["Location"] == "/views/"
    view.refresh_from_db()
    assert (view.name, view.visibility, view.group, view.slug) == (
        "Team queue",
        "group",
        team,
        "private-view-abc123",
    )


def test_resaving_takes_the_filters_on_screen(manager: User, manager_client: Client) -> None:
    view = a_view(manager)
    response = manager_client.post(
        f"/views/{view.slug}/update/", {"query": "status=NEW&priority=URGENT&page=4"}
    )
    view.refresh_from_db()
    assert view.parameters == {"status": "NEW", "priority": "URGENT"}
    assert response["Location"] == "/cases/?status=NEW&priority=URGENT"
    refused = manager_client.post(f"/views/{view.slug}/update/", {"query": "priority=SOON"})
    assert "was not changed" in texts_of_messages(refused)[-1]
    view.refresh_from_db()
    assert view.parameters == {"status": "NEW", "priority": "URGENT"}


def test_deleting_removes_the_view_and_every_pin_of_it(
    manager: User, colleague: User, manager_client: Client
) -> None:
    view = a_view(manager, "everyone")
    SavedViewVisit.objects.create(user=colleague, view=view, pinned=True)
    manager_client.post(f"/views/{view.slug}/delete/")
    assert not SavedView.objects.exists() and not SavedViewVisit.objects.exists()
    assert signed_in(colleague).get(f"/views/{view.slug}/").status_code == 404


def test_duplicating_a_shared_view_makes_a_private_copy_of_ones_own(
    manager: User, colleague: User
) -> None:
    original = a_view(manager, "everyone", name="Urgent")
    signed_in(colleague).post(f"/views/{original.slug}/duplicate/")
    copy = SavedView.objects.exclude(pk=original.pk).get()
    assert (copy.owner, copy.name, copy.visibility, copy.parameters) == (
        colleague,
        "Copy of Urgent",
        "private",
        original.parameters,
    )
    assert copy.slug != original.slug and copy.slug.startswith("urgent-")


def test_pinning_is_per_person(manager: User, colleague: User) -> None:
    view = a_view(manager, "everyone")
    signed_in(colleague).post(f"/views/{view.slug}/pin/", {"pinned": "1"})
    assert SavedViewVisit.objects.get(user=colleague, view=view).pinned
    assert not SavedViewVisit.objects.filter(user=manager).exists()
    signed_in(colleague).post(f"/views/{view.slug}/pin/", {"pinned": "0"})
    assert not SavedViewVisit.objects.get(user=colleague, view=view).pinned


# --- opening -----------------------------------------------------------------------------------


def test_opening_a_shared_view_fetches_cases_with_the_viewers_own_token(
    manager: User, colleague: User, sandbox_requests: Sandbox
) -> None:
    view = a_view(manager, "everyone")
    page = signed_in(colleague).get(f"/views/{view.slug}/", follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[0][0].startswith("/cases/?status=OPEN&status=PENDING")
    calls = case_calls(sandbox_requests)
    assert calls, "opening the view fetched no cases"
    colleague_agent = sandbox_requests.data.agents[1].id
    assert {call.token_user_id for call in calls} == {colleague_agent}
    assert ("status", '["OPEN","PENDING"]') in calls[-1].query


def test_a_view_whose_filters_no_longer_validate_opens_without_them_and_says_so(
    manager: User, manager_client: Client
) -> None:
    view = a_view(
        manager,
        parameters={
            "status": "OPEN",
            "priority": "SOMEDAY",
            "cf_removed7": "yes",
            "columns": "id,title,vanished",
        },
        name="Old view",
    )
    opened = manager_client.get(f"/views/{view.slug}/", follow=True)
    assert opened.status_code == 200
    assert opened.redirect_chain[0][0] == "/cases/?status=OPEN&columns=id%2Ctitle"
    page = opened.content.decode()
    assert "Some filters of “Old view” no longer apply" in page
    for dropped in ("SOMEDAY", "removed7", "vanished"):
        assert dropped in page
    view.refresh_from_db()
    assert view.parameters["priority"] == "SOMEDAY"  # the owner's view itself is left alone


def test_a_view_whose_range_ends_before_it_starts_drops_only_the_end(
    manager: User, manager_client: Client
) -> None:
    view = a_view(
        manager, parameters={"status": "OPEN", "update_at_after": "-1d", "update_at_before": "-7d"}
    )
    opened = manager_client.get(f"/views/{view.slug}/")
    assert location_pairs(opened) == [("status", "OPEN"), ("update_at_after", "-1d")]
    assert "Updated to “-7d”" in texts_of_messages(opened)[0]


def test_opening_records_the_visit(manager: User, manager_client: Client) -> None:
    view = a_view(manager)
    before = timezone.now()
    manager_client.get(f"/views/{view.slug}/")
    visit = SavedViewVisit.objects.get(user=manager, view=view)
    assert visit.last_seen_at is not None and visit.last_seen_at >= before and not visit.pinned


def test_opening_without_a_talkdesk_connection_still_goes_to_the_filters(
    manager: User, stranger: User, sandbox_requests: Sandbox
) -> None:
    view = a_view(manager, "everyone", parameters={"status": "OPEN", "cf_anything1": "x"})
    opened = signed_in(stranger).get(f"/views/{view.slug}/")
    # Nothing can be checked without Talkdesk; /cases/ then explains how to connect.
    assert location_pairs(opened) == [("status", "OPEN"), ("cf_anything1", "x")]
    assert not case_calls(sandbox_requests)


# --- the sidebar -------------------------------------------------------------------------------


def true_total(sandbox: Sandbox, statuses: set[str], priorities: set[str] | None = None) -> int:
    return sum(
        1
        for case in sandbox.data.cases
        if case.status in statuses and (priorities is None or case.priority in priorities)
    )


def pin(user: User, view: SavedView, last_seen: Any = None) -> SavedViewVisit:
    visit, _ = SavedViewVisit.objects.update_or_create(
        user=user, view=view, defaults={"pinned": True, "last_seen_at": last_seen or timezone.now()}
    )
    return visit


def test_the_sidebar_shows_pinned_views_with_live_counts(
    manager: User,
    manager_client: Client,
    sandbox_requests: Sandbox,
    htmx: dict[str, str],
) -> None:
    urgent = a_view(manager, name="Urgent open", slug="urgent-open-aaaaaa",
                    parameters={"status": "OPEN", "priority": "URGENT"})  # fmt: skip
    pending = a_view(
        manager, name="Pending", slug="pending-bbbbbb", parameters={"status": "PENDING"}
    )
    a_view(manager, name="Not pinned", slug="not-pinned-cccccc")
    pin(manager, urgent)
    pin(manager, pending)

    html = manager_client.get("/views/sidebar/", headers=htmx).content.decode()

    assert html.index("Pending") < html.index("Urgent open")
    assert "Not pinned" not in html
    data = sandbox_requests
    assert f'<span class="sidebar-count">{true_total(data, {"PENDING"}):,}</span>' in html
    assert f'<span class="sidebar-count">{true_total(data, {"OPEN"}, {"URGENT"}):,}</span>' in html
    calls = case_calls(sandbox_requests)
    assert len(calls) == 2
    assert all(dict(call.query)["per_page"] == "1" for call in calls)
    # Within the minute the counts come from the cache.
    sandbox_requests.clear_requests()
    manager_client.get("/views/sidebar/", headers=htmx)
    assert not case_calls(sandbox_requests)


def test_the_sidebar_loads_after_the_page_and_refreshes_only_when_asked(
    manager_client: Client,
) -> None:
    page = manager_client.get("/cases/").content.decode()
    assert 'hx-get="/views/sidebar/" hx-trigger="load"' in page
    assert "/static/js/views." in page
    fragment = manager_client.get("/views/sidebar/").content.decode()
    assert 'hx-trigger="refresh-visible"' in fragment and 'hx-trigger="load"' not in fragment


def test_the_last_seen_badge_marks_cases_updated_since_the_last_visit(
    manager: User, manager_client: Client, sandbox: Sandbox, htmx: dict[str, str]
) -> None:
    view = a_view(manager, name="Open", slug="open-dddddd", parameters={"status": "OPEN"})
    newest = max(case.update_at for case in sandbox.data.cases if case.status == "OPEN")
    pin(manager, view, last_seen=newest - timedelta(minutes=1))
    badge = "new since you last looked"

    assert badge in manager_client.get("/views/sidebar/", headers=htmx).content.decode()

    manager_client.get(f"/views/{view.slug}/")  # looking at it clears the dot
    assert badge not in manager_client.get("/views/sidebar/", headers=htmx).content.decode()

    pin(manager, view, last_seen=newest)  # updated exactly then: nothing newer
    assert badge not in manager_client.get("/views/sidebar/", headers=htmx).content.decode()


def test_the_sidebar_without_a_talkdesk_connection_lists_just_the_names(
    manager: User, stranger: User, sandbox_requests: Sandbox, htmx: dict[str, str]
) -> None:
    view = a_view(manager, "everyone", name="The shared queue")
    pin(stranger, view)
    response = signed_in(stranger).get("/views/sidebar/", headers=htmx)
    html = response.content.decode()
    assert response.status_code == 200
    assert "The shared queue" in html
    assert "sidebar-count" not in html and "error" not in html.lower()
    assert not sandbox_requests.requests


def test_the_sidebar_survives_talkdesk_failing(
    manager: User, manager_client: Client, sandbox_requests: Sandbox, htmx: dict[str, str]
) -> None:
    pin(manager, a_view(manager, name="Open", slug="open-eeeeee", parameters={"status": "OPEN"}))
    sandbox_requests.fail_next(3, "500", path_prefix=CASES_PATH)
    response = manager_client.get("/views/sidebar/", headers=htmx)
    assert response.status_code == 200
    assert "Open" in response.content.decode() and "—" in response.content.decode()


def test_a_pinned_view_no_longer_shared_leaves_the_sidebar(
    manager: User, colleague: User, htmx: dict[str, str]
) -> None:
    view = a_view(manager, "everyone", name="Was shared")
    pin(colleague, view)
    view.visibility = "private"
    view.save()
    html = signed_in(colleague).get("/views/sidebar/", headers=htmx).content.decode()
    assert "Was shared" not in html


def test_the_sidebar_marks_the_view_on_screen(manager: User, manager_client: Client) -> None:
    view = a_view(manager, name="Open", slug="open-ffffff", parameters={"status": "OPEN"})
    pin(manager, view)
    headers = {
        "HX-Request": "true",
        "HX-Current-URL": "http://testserver/cases/?status=OPEN&page=2",
    }
    html = manager_client.get("/views/sidebar/", headers=headers).content.decode()
    assert 'href="/views/open-ffffff/" aria-current="page"' in html


# --- "Save view" on /cases/ --------------------------------------------------------------------


def test_the_save_menu_carries_the_current_query_and_offers_to_update_my_views(
    manager: User,
) -> None:
    mine = a_view(manager, name="Mine", slug="mine-gggggg")
    request = RequestFactory().get("/cases/?status=OPEN&priority=HIGH")
    request.user = manager
    # Exactly as templates/cases/list.html includes it.
    page = engines["django"].from_string('{% include "views/list.html#save-menu" %}')
    html = page.render({}, request=request)
    assert 'action="/views/"' in html and "data-save-view" in html
    assert 'name="query" value="status=OPEN&amp;priority=HIGH"' in html
    assert f'action="/views/{mine.slug}/update/"' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_save_view_saves_the_filters_on_screen_and_the_sidebar_counts_it(
    signed_in_page: tuple[Page, Watch],
    sandbox: Sandbox,
) -> None:
    page, watch = signed_in_page
    page.goto("/cases/?status=PENDING")
    # The filters change without a reload, as htmx does; Save view saves what is on screen.
    page.locator("summary", has_text="Priority").click()
    page.get_by_label("High", exact=True).check()
    expect(page).to_have_url(re.compile(r"/cases/\?status=PENDING&priority=HIGH$"))
    page.locator("summary", has_text="Save view").click()
    page.get_by_label("View name").fill("Pending, high")
    page.get_by_role("button", name="Save view").click()

    expect(page).to_have_url(re.compile(r"/cases/\?status=PENDING&priority=HIGH$"))
    assert SavedView.objects.get().parameters == {"status": "PENDING", "priority": "HIGH"}
    expected = true_total(sandbox, {"PENDING"}, {"HIGH"})
    expect(page.locator("#sidebar-views")).to_contain_text(
        re.compile(rf"Pending, high\s+{expected:,}")
    )
    page.goto("/views/")
    expect(page.locator("a.view-name", has_text="Pending, high")).to_be_visible()
    assert serious_violations(page) == []
    assert watch.problems == []
