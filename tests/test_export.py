"""The CSV export: every matching case, in order, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client

from dashboard.connection import client_for
from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk import CasePage
from dashboard.talkdesk.params import PER_PAGE_MAX
from dashboard.views import export
from tests.conftest import connect

pytestmark = pytest.mark.django_db

CASES_PATH = "/cm/core/va/cases"
BILLING = "about=Billing"  # about 1,200 cases in the sandbox: three upstream pages of 500


def case_calls(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == CASES_PATH]


def body(response: Any) -> bytes:
    assert isinstance(response, StreamingHttpResponse), response.content[:500]
    return b"".join(response.streaming_content)


def rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def newest_first(cases: Iterable[Any]) -> list[str]:
    # The sandbox's cases are in creation order; ties in create_at break by id.
    return [case.id for case in sorted(cases, key=lambda c: (c.create_ts, int(c.id)), reverse=True)]


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "RETRY_PAUSE", 0.01)


def test_every_matching_case_is_exported_across_pages_in_order(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    expected = newest_first(c for c in sandbox_requests.data.cases if c.about == "Billing")
    assert 1000 < len(expected) <= 1500, "the filter should span three pages"

    table = rows(body(manager_client.get(f"/cases/export.csv?{BILLING}&page=2&per_page=25")))

    assert table[0] == ["ID", "Title", "Status", "Priority", "Type", "Requester", "Agent",
                        "Group", "Created", "Updated"]  # fmt: skip
    assert [row[0] for row in table[1:]] == expected
    calls = case_calls(sandbox_requests)
    assert sorted(dict(c.query)["page"] for c in calls) == ["1", "2", "3"]
    for call in calls:
        sent = dict(call.query)
        assert sent["per_page"] == str(PER_PAGE_MAX)
        assert (sent["order_by"], sent["sort"]) == ("create_at", "DESC")
        assert sent["about"] == '["Billing"]'


def test_the_cases_page_offers_the_export_of_the_same_query(manager_client: Client) -> None:
    html = manager_client.get(f"/cases/?{BILLING}&per_page=25&page=2").content.decode()
    match = re.search(r'href="(/cases/export\.csv[^"]*)"[^>]*>Export ([\d,]+) cases<', html)
    assert match is not None
    assert match[1] == f"/cases/export.csv?{BILLING}"
    assert match[2] == "1,207"


def test_the_download_is_a_private_utf8_csv_named_after_the_filter_and_the_time(
    manager_client: Client,
) -> None:
    manager_client.cookies["casebook_tz"] = "Asia/Kolkata"
    before = datetime.now(ZoneInfo("Asia/Kolkata"))
    response = manager_client.get("/cases/export.csv?status=OPEN&status=pending&priority=HIGH")
    raw = body(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert raw.startswith(b"\xef\xbb\xbfID,Title,")  # the BOM makes Excel read UTF-8
    name = re.fullmatch(r'attachment; filename="([^"]+)"', response["Content-Disposition"])
    assert name is not None
    assert re.fullmatch(r"casebook-status-open-pending-priority-high-\d{8}-\d{4}\.csv", name[1]), (
        name[1]
    )
    stamp = datetime.strptime(name[1][-17:-4], "%Y%m%d-%H%M").replace(tzinfo=before.tzinfo)
    assert abs((stamp - before.replace(second=0, microsecond=0)).total_seconds()) <= 120
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_filename_is_ascii_and_bounded_whatever_the_filter() -> None:
    moment = datetime(2024, 5, 2, 11, 15, tzinfo=UTC)
    assert export.filename("All cases", moment) == "casebook-all-cases-20240502-1115.csv"
    assert export.filename("Title contains: 无法登录", moment) == (
        "casebook-title-contains-20240502-1115.csv"
    )
    assert export.filename("无法登录", moment) == "casebook-cases-20240502-1115.csv"
    long = export.filename("Title contains: " + "refund please " * 20, moment)
    assert long.isascii() and len(long) <= len("casebook--20240502-1115.csv") + 60
    assert '"' not in export.filename('Title contains: "quoted"', moment)


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0958", "'+44 20 7946 0958"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\0x", "'\0x"),
        ("  =HYPERLINK()", "'  =HYPERLINK()"),
        ("\n@x", "'\n@x"),
        ("Refund 2+2=4", "Refund 2+2=4"),
        ("", ""),
        ("2024-05-02T11:15:00+02:00", "2024-05-02T11:15:00+02:00"),
    ],
)
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(cell: str, safe: str) -> None:
    assert export.neutralise(cell) == safe


def test_hostile_upstream_text_is_neutralised_in_the_file(
    manager_client: Client, sandbox: Sandbox
) -> None:
    hostile = [c for c in sandbox.data.cases if c.requester.name[:1] in "=+-@"][:6]
    hostile += [c for c in sandbox.data.cases if c.title[:1] in "=+-@"]
    assert {c.requester.name[0] for c in hostile} >= {"=", "+", "-", "@"}
    ids = ",".join(c.id for c in hostile)
    table = rows(
        body(manager_client.get(f"/cases/export.csv?ids={ids}&columns=id,title,requester"))
    )
    by_id = {row[0]: row for row in table[1:]}
    assert set(by_id) == {c.id for c in hostile}
    for case in hostile:
        _, title, requester = by_id[case.id]
        for original, written in ((case.title, title), (case.requester.name, requester)):
            if original[:1] in "=+-@":
                assert written == "'" + original
            else:
                assert written == original


def test_the_response_streams_before_every_page_is_fetched(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    response = manager_client.get(f"/cases/export.csv?{BILLING}")
    # The view fetched the first page itself, so an early failure could still be a 502.
    assert len(case_calls(sandbox_requests)) == 1
    sandbox_requests.fail_next(2, "delay", delay=1.0, path_prefix=CASES_PATH)

    chunks = iter(response.streaming_content)
    first = next(chunks)

    assert len(rows(first)) == 1 + 500, "the header and the first page, already sent"
    assert len(case_calls(sandbox_requests)) == 1, "pages 2 and 3 are still on their way"
    rest = b"".join(chunks)
    assert len(rows(first + rest)) == 1 + 1207
    assert len(case_calls(sandbox_requests)) == 3


def test_a_failure_mid_stream_ends_the_file_with_a_line_saying_it_is_incomplete(
    manager_client: Client,
    sandbox_requests: Sandbox,
    quick_retries: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = manager_client.get(f"/cases/export.csv?{BILLING}")
    sandbox_requests.fail_next(50, "500", path_prefix=CASES_PATH)
    with caplog.at_level(logging.WARNING, logger="dashboard.views.export"):
        table = rows(body(response))

    assert response.status_code == 200  # already sent when page 2 failed
    assert len(table) == 1 + 500 + 1
    last = table[-1]
    assert last[0].startswith("# EXPORT INCOMPLETE: Talkdesk failed on page 2 of 3 (")
    assert "HTTP 500" in last[0]
    assert "500 of 1,207 cases written" in last[0]
    assert any("incomplete" in record.getMessage() for record in caplog.records)


def test_a_passing_failure_of_one_page_is_retried_and_the_file_is_complete(
    manager_client: Client, sandbox_requests: Sandbox, quick_retries: None
) -> None:
    response = manager_client.get(f"/cases/export.csv?{BILLING}")
    sandbox_requests.fail_next(1, "500", path_prefix=CASES_PATH)
    table = rows(body(response))
    assert len(table) == 1 + 1207
    assert not any(row[0].startswith("# EXPORT INCOMPLETE") for row in table)


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ({"kind": "500"}, 502, "Talkdesk is having trouble right now (HTTP 500)"),
        ({"kind": "malformed"}, 502, "could not read"),
        ({"kind": "429", "retry_after": 3600}, 429, "Retry in 3600 s"),
        ({"kind": "delay", "delay": 3}, 504, "did not answer in time"),
    ],
)
def test_a_failure_before_the_first_row_is_a_readable_error_not_a_broken_file(
    manager_client: Client,
    sandbox_requests: Sandbox,
    impatient_transport: None,
    fault: dict[str, Any],
    status: int,
    message: str,
) -> None:
    sandbox_requests.fail_next(3, path_prefix=CASES_PATH, **fault)
    response = manager_client.get(f"/cases/export.csv?{BILLING}")
    text = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response
    assert message in text and "Casebook could not export" in text
    assert f"/cases/?{BILLING}" in text
    assert "Traceback" not in text


def test_an_invalid_filter_is_a_400_naming_it_and_nothing_goes_upstream(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    response = manager_client.get("/cases/export.csv?status=SLEEPING&per_page=9999")
    text = response.content.decode()
    assert response.status_code == 400
    assert "Status: " in text and "not one of the available choices" in text
    assert case_calls(sandbox_requests) == []


def test_without_a_talkdesk_connection_the_case_browser_explains_and_nobody_is_called(
    stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    response = stranger_client.get("/cases/export.csv?status=OPEN&fields=all")
    assert response.status_code == 302
    assert response["Location"] == "/cases/?status=OPEN"
    assert sandbox_requests.requests == []


def test_signed_out_visitors_are_sent_to_sign_in(sandbox_requests: Sandbox) -> None:
    response = Client().get("/cases/export.csv?status=OPEN")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert sandbox_requests.requests == []


def test_the_token_is_refreshed_once_before_the_fan_out_and_never_by_the_workers(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    connect(manager, sandbox_requests, ttl=30)  # inside the refresh-ahead window
    sandbox_requests.clear_requests()
    raw = body(manager_client.get(f"/cases/export.csv?{BILLING}"))
    assert len(rows(raw)) == 1 + 1207
    refreshes = [r for r in sandbox_requests.requests if r.path == "/oauth/token"]
    assert len(refreshes) == 1
    tokens = {r.headers["authorization"] for r in case_calls(sandbox_requests)}
    assert len(tokens) == 1 and len(case_calls(sandbox_requests)) == 3


def test_the_visible_columns_are_exported(manager_client: Client, sandbox: Sandbox) -> None:
    case = next(c for c in sandbox.data.cases if c.requester.email and c.agent)
    url = f"/cases/export.csv?ids={case.id}&columns=id,requester_email,agent,priority"
    table = rows(body(manager_client.get(url)))
    assert table == [
        ["ID", "Requester email", "Agent", "Priority"],
        [case.id, case.requester.email, case.agent.name, case.priority.capitalize()],
    ]


def test_all_fields_adds_every_field_and_custom_fields_under_their_labels(
    manager: User, manager_client: Client, sandbox: Sandbox
) -> None:
    fields = {f.key: f for f in client_for(manager).list_case_fields()}
    case = next(
        c
        for c in sandbox.data.cases
        if {"dropdown1", "checkbox1"} <= set(c.custom_fields) and c.agent
    )
    table = rows(body(manager_client.get(f"/cases/export.csv?ids={case.id}&fields=all")))
    header, row = table
    cell = dict(zip(header, row, strict=True))
    for name in ("ID", "Title", "Description", "Requester email", "Requester phone",
                 "Requester id", "Agent id", "Group", "Group id", "Form", "About"):  # fmt: skip
        assert name in cell
    assert cell["Description"] == export.neutralise(case.description)
    assert cell["Requester id"] == case.requester.id
    assert cell["Agent id"] == case.agent.id
    assert cell["Form"] == case.form_name
    for field in fields.values():
        assert field.name in header, field.name
    dropdown = fields["dropdown1"]
    options = {option.key: option.value for option in dropdown.options}
    assert cell[dropdown.name] == options[case.custom_fields["dropdown1"]]
    assert cell[fields["checkbox1"].name] == ("Yes" if case.custom_fields["checkbox1"] else "No")
    assert len(header) == len(set(header))


def test_times_are_in_the_viewers_timezone_with_the_offset(
    manager_client: Client, sandbox: Sandbox
) -> None:
    case = sandbox.data.cases[-1]
    manager_client.cookies["casebook_tz"] = "Asia/Kolkata"
    table = rows(body(manager_client.get(f"/cases/export.csv?ids={case.id}&columns=id,created")))
    created = table[1][1]
    assert created == case.create_at.astimezone(ZoneInfo("Asia/Kolkata")).isoformat("T", "seconds")
    assert created.endswith("+05:30")


def test_the_order_is_pinned_so_pages_cannot_shift_while_they_are_read(
    manager_client: Client, sandbox_requests: Sandbox
) -> None:
    body(manager_client.get("/cases/export.csv?status=OPEN&order_by=update_at&sort=ASC"))
    sent = dict(case_calls(sandbox_requests)[0].query)
    assert (sent["order_by"], sent["sort"]) == ("update_at", "ASC")
    # Cases created after the export began are left out, so none can be inserted mid-way.
    start, end = sent["create_at"].strip("[]").replace('"', "").split(",")
    assert start == "1970-01-01T00:00:00Z"
    moment = datetime.fromisoformat(end)
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60


def test_under_asgi_the_export_streams_from_an_async_iterator(
    manager: User, sandbox_requests: Sandbox
) -> None:
    client = AsyncClient()
    client.force_login(manager)
    response = async_to_sync(client.get)(f"/cases/export.csv?{BILLING}")
    assert response.is_async

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    table = rows(async_to_sync(read)())
    assert len(table) == 1 + 1207
    assert len(case_calls(sandbox_requests)) == 3


def _page(number: int) -> CasePage:
    # Twenty pages of two; the cases themselves do not matter here.
    return CasePage(total=40, count=2, page=number, per_page=2, cases=(object(),) * 2)


def test_pages_come_in_order_with_at_most_four_fetched_or_waiting_at_once() -> None:
    lock = threading.Lock()
    in_flight = 0
    peak_in_flight = 0
    done_not_taken: set[int] = set()
    peak_held = 0

    def fetch(number: int, stopped: threading.Event) -> CasePage:
        nonlocal in_flight, peak_in_flight, peak_held
        with lock:
            in_flight += 1
            peak_in_flight = max(peak_in_flight, in_flight)
        time.sleep(0.001 * ((number * 7) % 5))  # finish out of order
        with lock:
            in_flight -= 1
            done_not_taken.add(number)
            peak_held = max(peak_held, len(done_not_taken))
        return _page(number)

    seen = []
    for page in export.pages_in_order(_page(1), fetch, workers=4):
        with lock:
            done_not_taken.discard(page.page)
        seen.append(page.page)
    assert seen == list(range(1, 21))
    assert peak_in_flight <= 4
    assert peak_held <= 4, "never more than the workers' pages waiting besides the one written"


def test_closing_the_download_stops_fetching_further_pages() -> None:
    fetched: list[int] = []

    def fetch(number: int, stopped: threading.Event) -> CasePage:
        fetched.append(number)
        return _page(number)

    pages = export.pages_in_order(_page(1), fetch, workers=4)
    assert next(pages).page == 1
    assert next(pages).page == 2
    pages.close()
    time.sleep(0.05)
    assert max(fetched) <= 2 + 4


def test_export_all_is_another_spelling_of_fields_all(manager_client: Client) -> None:
    header = rows(body(manager_client.get("/cases/export.csv?ids=1&export=all")))[0]
    assert "Description" in header and "Form" in header
