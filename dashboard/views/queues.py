"""/queues/: the team lead's overview of open work, and the count fan-out it shares with the
sidebar's pinned views.

Every number is the API's `total` for one query asked with per_page=1, and every number links
to /cases/ with the parameters it was counted from: the query means exactly what the case
browser makes of that link, with one `now` for the whole page, so following a link shows the
same number (give or take cases that changed in between). The one exception is "unassigned":
the API cannot filter for "no agent", so it is open work minus the per-agent counts over
Talkdesk's user list, shown without a link and with a note saying so.

The calls run concurrently on one process-wide pool. It is sized so that a whole overview
(55 calls with 30 agents) goes out in one round: against the sandbox in its own process with
100 ms latency, the overview took 7.7 times one call at 8 at once, 4.7 at 16, 2.8 at 32 and
1.8 to 2.1 at 64 (the rest is about a millisecond of client work per call, plus rendering).
The pool, not each request, bounds the calls in flight, so several team leads at once queue
up instead of multiplying the load on Talkdesk, and its threads keep their keep-alive
connections between requests (a new TLS connection per call would cost more than the call).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from time import monotonic
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache as django_cache
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.connection import NotConnected, account_key, fan_out_client_for
from dashboard.forms import CaseFilterForm
from dashboard.presentation import PRESENTATION_PARAMETERS, priority_badge, status_badge
from dashboard.talkdesk import (
    LABELS,
    CaseQuery,
    ReconnectRequired,
    TalkdeskClient,
    TalkdeskError,
    UpstreamTimeout,
)
from dashboard.talkdesk.params import PRIORITIES
from dashboard.views.cases import HtmxHttpRequest, agents, error_status

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("NEW", "OPEN", "PENDING", "ON_HOLD")
FAN_OUT_WORKERS = 64
COUNT_CACHE_SECONDS = 60
# The overview polls every 60 s; reading only counts younger than 50 s means each poll brings
# fresh numbers, while a reload or a second tab within that time costs no call at all.
OVERVIEW_MAX_AGE = 50
# A page waits this long for its counts; what has not arrived by then shows as missing.
FAN_OUT_DEADLINE = 10.0
# Parameters that change the order or the page of a list but not how many cases match.
NOT_COUNTED = frozenset({"page", "per_page", "order_by", "sort", *PRESENTATION_PARAMETERS})

AGING = (
    ("Under 1 day", "-1d", None),
    ("1–3 days", "-3d", "-1d"),
    ("3–7 days", "-7d", "-3d"),
    ("7–30 days", "-30d", "-7d"),
    ("Over 30 days", None, "-30d"),
)
STALENESS = (("1 day", "-1d"), ("3 days", "-3d"), ("7 days", "-7d"))


@dataclass(frozen=True)
class Count:
    """How many cases match a query, and when the newest of them was last updated."""

    total: int
    newest_update: datetime | None
    fetched_at: datetime


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=FAN_OUT_WORKERS, thread_name_prefix="talkdesk-count")


def count_parameters(params: QueryDict) -> str:
    """The parameters that decide a count, in a stable order: what a cached count is keyed on."""
    kept = [
        (name, value)
        for name in sorted(params)
        if name not in NOT_COUNTED
        for value in params.getlist(name)
        if value != ""
    ]
    return urlencode(kept)


def _count(client: TalkdeskClient, query: CaseQuery) -> Count:
    # Runs on a pool thread: only the (thread-safe) client, no database, no Django cache.
    page = client.list_cases(query)
    newest = page.cases[0].update_at if page.cases else None
    return Count(page.total, newest, timezone.now())


class CountBatch:
    """The counts one page needs: cached ones at once, the others fetched concurrently.

    Counts are cached per person (their token decides what they may see), per account and per
    timezone (`today` and `week` start at the viewer's midnight), keyed on the parameters as
    the URL writes them, so the overview and the sidebar share what they both count. Each call
    sorts by update time, so the one row per_page=1 returns is the most recently updated case:
    the sidebar's "new since you last looked" costs no second call.
    """

    def __init__(self, client: TalkdeskClient, user_pk: Any, *, max_age: float) -> None:
        self._client = client
        self._user_pk = user_pk
        self._max_age = max_age
        self._started = monotonic()
        self._done: dict[str, Count] = {}
        self._pending: dict[str, Future[Count]] = {}
        self.calls = 0

    def _cache_key(self, key: str) -> str:
        parts = ("count", str(self._user_pk), account_key(), timezone.get_current_timezone_name())
        return "casebook:" + hashlib.sha256("\x1f".join((*parts, key)).encode()).hexdigest()

    def add(self, params: QueryDict, query: CaseQuery) -> str:
        """Ask for the count of `query`, which `params` describe; returns the result's key."""
        key = count_parameters(params)
        if key in self._done or key in self._pending:
            return key
        cached: Count | None = django_cache.get(self._cache_key(key))
        if cached is not None and (timezone.now() - cached.fetched_at).total_seconds() < (
            self._max_age
        ):
            self._done[key] = cached
            return key
        one_row = dataclasses.replace(query, page=1, per_page=1, order_by="update_at", sort="DESC")
        self._pending[key] = _pool().submit(_count, self._client, one_row)
        self.calls += 1
        return key

    def results(self) -> dict[str, Count | TalkdeskError]:
        """Every count asked for, or the error that stands in for it; never raises for
        Talkdesk's failures, so a page can show what it has."""
        results: dict[str, Count | TalkdeskError] = dict(self._done)
        for key, future in self._pending.items():
            remaining = max(0.0, FAN_OUT_DEADLINE - (monotonic() - self._started))
            try:
                count = future.result(timeout=remaining)
            except FutureTimeout:
                future.cancel()
                results[key] = UpstreamTimeout()
            except TalkdeskError as exc:
                results[key] = exc
            else:
                results[key] = count
                django_cache.set(self._cache_key(key), count, COUNT_CACHE_SECONDS)
        self._pending.clear()
        return results


@dataclass(frozen=True)
class Number:
    """One number on the page: its value (None when Talkdesk did not give it) and its link."""

    label: str
    value: int | None
    url: str | None = None
    derived: bool = False


def _params(*pairs: tuple[str, str]) -> QueryDict:
    params = QueryDict(mutable=True)
    for name, value in pairs:
        params.appendlist(name, value)
    return params


OPEN_WORK = tuple(("status", status) for status in OPEN_STATUSES)


@require_GET
@vary_on_headers("HX-Request")
@cache_control(private=True, no_store=True)
def queue_overview(request: HtmxHttpRequest) -> HttpResponse:
    ctx: dict[str, Any] = {"open_url": "/cases/?" + _params(*OPEN_WORK).urlencode()}
    status = 200
    try:
        client = fan_out_client_for(request.user)
    except NotConnected:
        ctx["not_connected"] = True
    except ReconnectRequired:
        ctx["not_connected"] = ctx["reconnect"] = True
    except TalkdeskError as exc:
        ctx["error"] = exc
        status = error_status(exc)
    else:
        overview, status = _overview(request, client)
        ctx |= overview
    if request.htmx and not request.htmx.boosted:
        return render(request, "queues/overview.html#overview", ctx, status=status)
    return render(request, "queues/overview.html", ctx, status=status)


def _overview(request: HtmxHttpRequest, client: TalkdeskClient) -> tuple[dict[str, Any], int]:
    """Every number of the overview: ask for all of them at once, then lay them out."""
    now = timezone.now()
    max_age = 0 if request.GET.get("refresh") == "1" else OVERVIEW_MAX_AGE
    batch = CountBatch(client, request.user.pk, max_age=max_age)
    links: dict[str, str] = {}
    open_work = CaseQuery(status=OPEN_STATUSES)

    def ask(*pairs: tuple[str, str], **same_as_open_work_but: Any) -> str:
        """Count the cases of the /cases/ link these parameters make, and remember the link.

        The query is what the case browser's form makes of the link. Links that only narrow
        open work by an exact value (a status and priority, an agent) derive it from open
        work's query instead: reading 46 forms would cost more than the calls' own overhead
        (the tests follow every link and compare the totals).
        """
        params = _params(*pairs)
        if same_as_open_work_but:
            query = dataclasses.replace(open_work, **same_as_open_work_but)
        else:
            form = CaseFilterForm(params)
            if not form.is_valid():  # our own parameters: a failure here is a bug
                raise AssertionError(f"invalid overview query {params.urlencode()}: {form.errors}")
            query = form.to_query(now=now)
        key = batch.add(params, query)
        links[key] = "/cases/?" + params.urlencode()
        return key

    # The users list is usually cached; when it is not, it is fetched alongside the first
    # counts rather than before them, and only the per-agent counts wait for it.
    people = agents(None, request.user.pk)
    people_future = None if people else _pool().submit(agents, client, request.user.pk)

    total_key = ask(*OPEN_WORK)
    cell_keys = {
        (status, priority): ask(
            ("status", status), ("priority", priority), status=(status,), priority=(priority,)
        )
        for status in OPEN_STATUSES
        for priority in PRIORITIES
    }
    oldest_first = (("order_by", "create_at"), ("sort", "ASC"))
    aging_keys = [
        (
            label,
            ask(
                *OPEN_WORK,
                *((("create_at_after", after),) if after else ()),
                *((("create_at_before", before),) if before else ()),
                *oldest_first,
            ),
        )
        for label, after, before in AGING
    ]
    stale_keys = [
        (
            label,
            ask(
                *OPEN_WORK, ("update_at_before", before), ("order_by", "update_at"), ("sort", "ASC")
            ),
        )
        for label, before in STALENESS
    ]
    if people_future is not None:
        try:
            people = people_future.result(timeout=FAN_OUT_DEADLINE)
        except FutureTimeout:
            people = {}
    agent_keys = [
        (person, ask(*OPEN_WORK, ("agent_id", person.id), agent_id=person.id))
        for person in people.values()
    ]
    results = batch.results()

    def number(label: str, key: str) -> Number:
        result = results[key]
        value = result.total if isinstance(result, Count) else None
        return Number(label, value, links[key])

    errors = [result for result in results.values() if isinstance(result, TalkdeskError)]
    total = number("All open work", total_key)
    matrix, column_totals, outside_priorities = _matrix(cell_keys, total, number)
    agent_rows = sorted(
        ((person, number(person.name, key)) for person, key in agent_keys),
        key=lambda row: (row[1].value is None, -(row[1].value or 0), row[0].name.casefold()),
    )
    busy = [row for row in agent_rows if row[1].value != 0]
    assigned = [row[1].value for row in agent_rows]
    unassigned = Number(
        "Unassigned",
        total.value - sum(v for v in assigned if v is not None)
        if total.value is not None and people and None not in assigned
        else None,
        derived=True,
    )
    if unassigned.value is not None and unassigned.value < 0:
        # Cases moved between the calls; a negative count would be nonsense.
        unassigned = dataclasses.replace(unassigned, value=0)
    fetched = [result.fetched_at for result in results.values() if isinstance(result, Count)]
    ctx = {
        "total": total,
        "priorities": [priority_badge(priority) for priority in PRIORITIES],
        "matrix": matrix,
        "column_totals": column_totals,
        "outside_priorities": outside_priorities,
        "agent_rows": busy,
        "idle_agents": len(agent_rows) - len(busy),
        "people_count": len(people),
        "people_missing": not people,
        "busiest": max((row[1].value or 0 for row in busy), default=0),
        "unassigned": unassigned,
        "aging": [number(label, key) for label, key in aging_keys],
        "staleness": [number(f"No update in {label}", key) for label, key in stale_keys],
        "missing": len(errors),
        "asked": len(results),
        "first_error": errors[0] if errors else None,
        "as_of": min(fetched) if fetched else None,
        "refresh_url": "/queues/?refresh=1",
    }
    status = 200 if fetched or not errors else error_status(errors[0])
    if errors:
        logger.warning(
            "queue overview: %d of %d counts failed (%s)", len(errors), len(results), errors[0]
        )
    return ctx, status


@dataclass(frozen=True)
class MatrixRow:
    status: SafeString
    cells: list[Number]
    total: Number


def _matrix(
    cell_keys: Mapping[tuple[str, str], str],
    total: Number,
    number: Callable[[str, str], Number],
) -> tuple[list[MatrixRow], list[Number], int | None]:
    """Status × priority, row and column totals summed from the cells, and how many open
    cases have none of the four priorities.

    A column total (open work with priority P) is exactly the sum of its cells, and links to
    that filter. A row total links to plain `status=S` only when the cells add up to all open
    work, which proves every open case has one of the four priorities; otherwise the link
    names the four priorities, so it still shows the sum.
    """
    cells = {pair: number(pair[0], key) for pair, key in cell_keys.items()}
    values = [cell.value for cell in cells.values()]
    complete = None not in values and total.value is not None
    exact = complete and sum(v or 0 for v in values) == total.value
    rows = []
    for status in OPEN_STATUSES:
        row = [cells[status, priority] for priority in PRIORITIES]
        row_values = [cell.value for cell in row]
        pairs = [("status", status)] + ([] if exact else [("priority", p) for p in PRIORITIES])
        labelled = [
            dataclasses.replace(cell, label=f"{_label(status)}, {_label(priority)}")
            for cell, priority in zip(row, PRIORITIES, strict=True)
        ]
        rows.append(
            MatrixRow(
                status_badge(status),
                labelled,
                Number(
                    f"{_label(status)}, any priority",
                    None if None in row_values else sum(v or 0 for v in row_values),
                    "/cases/?" + _params(*pairs).urlencode(),
                    derived=True,
                ),
            )
        )
    columns = []
    for priority in PRIORITIES:
        column_values = [cells[status, priority].value for status in OPEN_STATUSES]
        columns.append(
            Number(
                f"All open work, {_label(priority)}",
                None if None in column_values else sum(v or 0 for v in column_values),
                "/cases/?" + _params(*OPEN_WORK, ("priority", priority)).urlencode(),
                derived=True,
            )
        )
    # How many open cases have none of the four priorities (None: not known).
    outside = (total.value or 0) - sum(v or 0 for v in values) if complete else None
    return rows, columns, outside


def _label(value: str) -> str:
    return LABELS.get(value, value)
