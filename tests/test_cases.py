"""The case browser: from the dashboard URL to what Talkdesk receives, and back to the page."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.connection import client_for
from dashboard.forms import RANGE_FIELDS, CaseFilterForm
from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk.params import CASE_QUERY_PARAMETERS, CaseQuery

pytestmark = pytest.mark.django_db


def case_calls(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == "/cm/core/va/cases"]


def sent(sandbox: Sandbox) -> dict[str, str]:
    """The query of the (last) case-list call Talkdesk received, as name → raw value."""
    calls = case_calls(sandbox)
    assert calls, "no case-list call reached the sandbox"
    return dict(calls[-1].query)


def test_form_query_object_and_contract_name_the_same_22_parameters() -> None:
    form_names = set(CaseFilterForm().fields) - set(RANGE_FIELDS) | {"create_at", "update_at"}
    form_names |= {"custom_fields"}  # cf_<key> fields, built from Talkdesk's field list
    query_names = {field.name for field in dataclasses.fields(CaseQuery)}
    assert len(CASE_QUERY_PARAMETERS) == 22
    assert form_names == query_names == set(CASE_QUERY_PARAMETERS)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("status=open&status=On-hold", {"status": '["OPEN","ON_HOLD"]'}),
        ("priority=HIGH&priority=urgent", {"priority": '["HIGH","URGENT"]'}),
        ("type=question", {"type": '["QUESTION"]'}),
        ("about=Billing&about=Shipping", {"about": '["Billing","Shipping"]'}),
        ("ids=12, 13%0A14", {"ids": '["12","13","14"]'}),
        ("ids=12&ids=15", {"ids": '["12","15"]'}),
        ("agent_id=abc123", {"agent_id": "abc123"}),
        ("agent_name=Lee", {"agent_name": "Lee"}),
        ("agent_email=lee@example.com", {"agent_email": "lee@example.com"}),
        ("requester_type=contact", {"requester_type": "CONTACT"}),
        ("requester_type=agents", {"requester_type": "AGENT"}),
        ("requester_id=r-1", {"requester_id": "r-1"}),
        ("requester_name=Dana", {"requester_name": "Dana"}),
        ("requester_email=dana@example.com", {"requester_email": "dana@example.com"}),
        ("requester_phone=%2B15550100123", {"requester_phone": "+15550100123"}),
        ("title=refund", {"title": "refund"}),
        ("description=voicemail", {"description": "voicemail"}),
        ("order_by=UPDATE_AT&sort=asc", {"order_by": "update_at", "sort": "ASC"}),
        ("page=3&per_page=25", {"page": "3", "per_page": "25"}),
        (
            "create_at_after=2024-05-01T10:00:00Z&create_at_before=2024-05-31T10:00:00Z",
            {"create_at": '["2024-05-01T10:00:00Z","2024-05-31T10:00:00Z"]'},
        ),
        (
            "update_at_after=2024-05-01T00:00:00Z",
            {"update_at": '["2024-05-01T00:00:00Z","9999-12-31T23:59:59Z"]'},
        ),
    ],
)
def test_each_parameter_travels_from_the_dashboard_url_to_talkdesk(
    manager_client: Client, sandbox_requests: Sandbox, url: str, expected: dict[str, str]
) -> None:
    response = manager_client.get(f"/cases/?{url}")
    assert response.status_code == 200, response.content.decode()[:2000]
    received = sent(sandbox_requests)
    for name, value in expected.items():
        assert received[name] == value
    assert received.get("per_page", "50") in {"50", expected.get("per_page", "50")}


def test_a_date_means_the_whole_day_in_the_viewers_timezone(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    manager_client.cookies["casebook_tz"] = "Europe/Lisbon"  # UTC+1 in summer
    manager_client.get("/cases/?create_at_after=2024-07-01&create_at_before=2024-07-01")
    assert sent(sandbox_requests)["create_at"] == '["2024-06-30T23:00:00Z","2024-07-01T22:59:59Z"]'


def test_custom_fields_are_sent_typed_under_their_keys(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    fields = {f.kind: f for f in client_for(manager).list_case_fields()}
    checkbox, dropdown = fields["checkbox"], fields["dropdown"]
    option = dropdown.options[0].key
    response = manager_client.get(f"/cases/?cf_{checkbox.key}=yes&cf_{dropdown.key}={option}")
    assert response.status_code == 200
    sent_filters = json.loads(sent(sandbox_requests)["custom_fields"])
    assert {"label": checkbox.key, "value": True} in sent_filters
    assert {"label": dropdown.key, "value": option} in sent_filters


@pytest.mark.parametrize(
    ("url", "field", "message"),
    [
        ("per_page=501", "Rows per page", "less than or equal to 500"),
        ("page=0", "Page", "greater than or equal to 1"),
        ("status=SLEEPING", "Status", "not one of the available choices"),
        ("requester_phone=" + "1" * 21, "Requester phone", "at most 20 characters"),
        ("agent_name=" + "x" * 126, "Agent name", "at most 125 characters"),
        ("ids=12,abc", "Case ids", "Case ids are numbers"),
        ("create_at_after=yesterday-ish", "Created from", "Use a date"),
        (
            "update_at_after=2024-05-10&update_at_before=2024-05-01",
            "Updated to",
            "before the start",
        ),
        ("cf_nonexistent1=1", "", "no custom field"),
        ("order_by=title", "Sort by", "not one of the available choices"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field_and_nothing_goes_upstream(
    manager_client: Client, sandbox_requests: Sandbox, url: str, field: str, message: str
) -> None:
    response = manager_client.get(f"/cases/?{url}")
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    if field:
        assert f"<strong>{field}</strong>" in html
    assert "Nothing was sent to Talkdesk" in html
    assert case_calls(sandbox_requests) == []


def test_htmx_gets_the_results_fragment_and_a_browser_the_whole_page(
    manager_client: Client, htmx: dict[str, str]
) -> None:
    full = manager_client.get("/cases/?status=OPEN")
    fragment = manager_client.get("/cases/?status=OPEN", headers=htmx)
    assert "<html" in full.content.decode() and 'id="filters"' in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<section id="results"')
    assert 'id="filter-form"' in body and 'hx-swap-oob="true"' in body
    assert "HX-Request" in full["Vary"] and "HX-Request" in fragment["Vary"]
    assert "no-store" in full["Cache-Control"]


def test_the_filter_forms_own_requests_do_not_replace_the_form(
    manager_client: Client, htmx: dict[str, str]
) -> None:
    body = manager_client.get(
        "/cases/?title=re", headers=htmx | {"HX-Trigger": "filters"}
    ).content.decode()
    assert 'id="filter-form"' not in body


def test_counts_come_from_the_apis_total(manager_client: Client, sandbox: Sandbox) -> None:
    open_cases = sum(1 for case in sandbox.data.cases if case.status == "OPEN")
    html = manager_client.get("/cases/?status=OPEN&per_page=25").content.decode()
    assert f"1–25 of {open_cases:,}" in html
    assert len(re.findall(r'<tr tabindex="0" data-case=', html)) == 25
    assert "Status:</span> Open" in html
    assert "Status: Open" in html  # the plain-words summary


def test_identical_queries_within_30_seconds_come_from_the_per_user_cache(
    manager_client: Client, colleague_client: Client, sandbox_requests: Sandbox
) -> None:
    manager_client.get("/cases/?status=PENDING")
    manager_client.get("/cases/?status=pending")  # the same query, spelled differently
    assert len(case_calls(sandbox_requests)) == 1
    colleague_client.get("/cases/?status=PENDING")
    assert len(case_calls(sandbox_requests)) == 2, "another user never sees my cached rows"
    page = manager_client.get("/cases/?status=PENDING&refresh=1").content.decode()
    assert len(case_calls(sandbox_requests)) == 3
    assert "as of" in page


def test_not_connected_shows_the_connect_prompt_and_calls_nobody(
    stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    html = stranger_client.get("/cases/?status=OPEN").content.decode()
    assert "Connect Talkdesk to see your cases" in html
    assert sandbox_requests.requests == []


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ({"kind": "500"}, 502, "Talkdesk could not answer"),
        ({"kind": "502"}, 502, "Talkdesk could not answer"),
        ({"kind": "malformed"}, 502, "Talkdesk could not answer"),
        ({"kind": "429", "retry_after": 3600}, 429, "Talkdesk asks us to slow down"),
        ({"kind": "delay", "delay": 14}, 504, "Talkdesk took too long"),
    ],
)
def test_an_upstream_failure_is_a_readable_message_with_a_retry(
    manager_client: Client,
    sandbox_requests: Sandbox,
    htmx: dict[str, str],
    impatient_transport: None,
    fault: dict[str, Any],
    status: int,
    message: str,
) -> None:
    sandbox_requests.fail_next(3, path_prefix="/cm/core/va/cases", **fault)
    response = manager_client.get("/cases/?status=CLOSED", headers=htmx)
    html = response.content.decode()
    assert response.status_code == status
    assert message in html and "Try again" in html
    assert "Traceback" not in html


def test_hostile_upstream_text_is_escaped(manager_client: Client, sandbox: Sandbox) -> None:
    hostile = next(c for c in sandbox.data.cases if "<script>" in c.title)
    html = manager_client.get(f"/cases/?ids={hostile.id}").content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_the_pager_is_made_of_real_links_that_keep_the_filters(manager_client: Client) -> None:
    html = manager_client.get("/cases/?status=CLOSED&per_page=25&page=3").content.decode()
    next_link = re.search(r'<a href="\?status=CLOSED&amp;per_page=25&amp;page=4"[^>]*>', html)
    assert next_link is not None
    # The same link for htmx, which swaps the results and pushes the URL for Back to work.
    assert 'hx-get="?status=CLOSED&amp;per_page=25&amp;page=4"' in next_link[0]
    assert 'hx-push-url="true"' in next_link[0]
    assert re.search(r'<a href="[^"]*page=3"[^>]*aria-current="page"', html)


def test_column_headers_sort_and_say_so(manager_client: Client, sandbox_requests: Sandbox) -> None:
    html = manager_client.get("/cases/?order_by=update_at&sort=ASC").content.decode()
    assert 'aria-sort="ascending"' in html
    assert sent(sandbox_requests)["order_by"] == "update_at"


def test_the_column_choice_travels_in_the_url(manager_client: Client) -> None:
    html = manager_client.get("/cases/?columns=id,title,requester_email").content.decode()
    assert 'class="col-requester_email"' in html
    assert 'class="col-agent"' not in html


def test_an_empty_result_suggests_which_filter_to_loosen(manager_client: Client) -> None:
    html = manager_client.get("/cases/?status=OPEN&title=zzzz-no-such-title").content.decode()
    assert "No cases match" in html
    assert "Remove Title contains" in html


def test_the_detail_is_a_fragment_for_htmx_and_a_page_when_opened_directly(
    manager_client: Client, sandbox: Sandbox, htmx: dict[str, str]
) -> None:
    case = next(c for c in sandbox.data.cases if c.notes)
    page = manager_client.get(f"/cases/{case.id}/").content.decode()
    panel = manager_client.get(f"/cases/{case.id}/", headers=htmx).content.decode()
    assert "<html" in page and "<html" not in panel
    for html in (page, panel):
        assert f"#{case.id}" in html
        assert "Other cases from this requester" in html
        assert "Notes (" in html


def test_an_unknown_case_is_a_404_with_a_message(manager_client: Client) -> None:
    response = manager_client.get("/cases/99999999/")
    assert response.status_code == 404
    assert "Can't show this case" in response.content.decode()


def test_empty_inputs_never_reach_the_shared_link(
    manager_client: Client, htmx: dict[str, str]
) -> None:
    submitted = "/cases/?title=&status=OPEN&ids=&about=&agent_id=&per_page=25&cf_text1="
    page = manager_client.get(submitted)
    assert page.status_code == 302
    assert page["Location"] == "/cases/?status=OPEN&per_page=25"
    fragment = manager_client.get(submitted + "&refresh=1", headers=htmx)
    assert fragment["HX-Push-Url"] == "/cases/?status=OPEN&per_page=25"


def test_the_pager_does_not_resend_the_filter_form_but_a_new_sort_does(
    manager_client: Client, htmx: dict[str, str]
) -> None:
    here = {**htmx, "HX-Current-URL": "http://testserver/cases/?status=OPEN&page=2"}
    paging = manager_client.get("/cases/?status=OPEN&page=3", headers=here).content.decode()
    assert 'id="filter-form"' not in paging
    sorting = manager_client.get("/cases/?status=OPEN&order_by=update_at", headers=here)
    assert 'id="filter-form"' in sorting.content.decode()


def test_a_case_id_that_is_not_a_number_is_refused_at_the_edge() -> None:
    from dashboard.talkdesk import BadResponse
    from dashboard.talkdesk.models import parse_case_page

    row = {"id": '1"><img src=x hx-post=/talkdesk/disconnect/ hx-trigger=load>', "title": "t",
           "description": "", "status": "Open", "create_at": "2024-05-02T09:15:00Z",
           "update_at": "2024-05-02T09:15:00Z"}  # fmt: skip
    page = {"total": 1, "count": 1, "page": 1, "per_page": 50, "_links": {},
            "_embedded": {"data": [row]}}  # fmt: skip
    with pytest.raises(BadResponse):
        parse_case_page(page)


def test_a_form_sent_back_with_a_chip_still_has_the_agents_and_custom_fields(
    manager_client: Client, sandbox: Sandbox, htmx: dict[str, str]
) -> None:
    here = {**htmx, "HX-Current-URL": "http://testserver/cases/?status=OPEN&priority=HIGH"}
    body = manager_client.get("/cases/?status=OPEN", headers=here).content.decode()
    assert 'id="filter-form"' in body
    assert sandbox.data.agents[3].name in body  # the agent picker is complete
    assert "Custom fields" in body and "VIP customer" in body


def test_relative_dates_are_served_from_the_cache_too(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    manager_client.get("/cases/?update_at_after=-7d")
    manager_client.get("/cases/?update_at_after=-7d")
    assert len(case_calls(sandbox_requests)) == 1


def test_a_missing_scope_is_a_403_the_page_explains(
    stranger: User, sandbox: Sandbox, htmx: dict[str, str]
) -> None:
    from tests.conftest import connect, signed_in

    connect(stranger, sandbox, scopes=["openid", "users:read", "case-fields-public:read"])
    response = signed_in(stranger).get("/cases/?status=OPEN", headers=htmx)
    assert response.status_code == 403
    assert "Talkdesk refused access" in response.content.decode()


def test_htmx_swaps_every_error_status_the_views_answer_with(manager_client: Client) -> None:
    import json
    import re as regex

    html = manager_client.get("/cases/").content.decode()
    config = json.loads(regex.search(r"name=\"htmx-config\" content='([^']+)'", html)[1])
    swapped = next(
        rule["code"] for rule in config["responseHandling"] if rule.get("error") is False
    )
    for status in (400, 403, 404, 429, 502, 504):
        assert regex.fullmatch(swapped, str(status))


def test_a_reconnect_is_asked_for_on_the_list_and_on_a_case(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    from dashboard.models import TalkdeskConnection

    TalkdeskConnection.objects.filter(user=manager).update(reconnect_required=True)
    assert "Reconnect Talkdesk" in manager_client.get("/cases/").content.decode()
    detail = manager_client.get("/cases/12/")
    assert detail.status_code == 200 and "Connect Talkdesk" in detail.content.decode()
    assert sandbox_requests.requests == []


def test_one_chip_per_filter_value_however_often_or_however_spelled(
    manager_client: Client,
) -> None:
    html = manager_client.get("/cases/?status=open&status=OPEN&about=a&about=a&about=b").content
    text = html.decode()
    assert text.count("Remove filter Status: Open") == 1
    assert 'href="?about=a&amp;about=a&amp;about=b"' in text  # removing Open drops both spellings
    assert 'href="?status=open&amp;status=OPEN&amp;about=b"' in text  # removing "a" drops both
