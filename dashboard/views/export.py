"""/cases/export.csv: every case matching the case browser's query string, streamed as CSV.

The first page is fetched before the response starts, so a Talkdesk failure at the start is a
proper 502/504 answer rather than a broken file. The remaining pages of 500 are then fetched a
few at a time by worker threads and written strictly in page order, as they arrive: the
process never holds more than `EXPORT_WORKERS + 1` pages, whatever the size of the export
(reference C3, C4). The token is made fresh once, before the fan-out (`fan_out_client_for`);
workers carry it as a plain string and never refresh nor touch the database.

A failure after the first page cannot change the status any more, so the file ends with a
row that says it is incomplete, how far it got and why: never a silently short file.

Under WSGI (gunicorn gthread) the body is a sync generator; under ASGI it is wrapped in an
async generator, because Django buffers a sync iterator whole under ASGI (reference C3).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from dashboard.connection import NotConnected, client_for, fan_out_client_for
from dashboard.forms import CUSTOM_FIELD_PREFIX, CaseFilterForm
from dashboard.presentation import (
    COLUMNS,
    active_filters,
    chosen_columns,
    summary,
)
from dashboard.talkdesk import (
    Case,
    CaseField,
    CasePage,
    CaseQuery,
    DateRange,
    RateLimited,
    TalkdeskClient,
    TalkdeskError,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)
from dashboard.talkdesk.params import PER_PAGE_MAX
from dashboard.views.cases import agents, case_fields, error_status

logger = logging.getLogger(__name__)

EXPORT_PER_PAGE = PER_PAGE_MAX
# Pages fetched at once. Talkdesk rate-limits per account; four keeps an export well inside it
# while cutting its time by four against one page at a time.
EXPORT_WORKERS = 4
# An export is not interactive (the person waits for a download), so a page that fails for a
# passing reason is tried again, on top of the transport's own quick retry.
PAGE_ATTEMPTS = 3
RETRY_PAUSE = 1.0
RETRY_PAUSE_MAX = 10.0
FILENAME_SLUG_MAX = 60
# Parameters that choose the export's columns; never sent upstream.
ALL_FIELDS_PARAMETERS = ("fields", "export")
# OWASP CSV injection: a spreadsheet reads a cell starting with one of these as a formula
# (NUL from ASVS 5.0 V1.2.10).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\0")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only with it


def neutralise(text: str) -> str:
    """A cell made safe to open in a spreadsheet: formula triggers get a leading `'`.

    The check also looks past leading whitespace, which spreadsheets skip before deciding
    that a cell is a formula. (Called for every cell of an export: the common case, a cell
    starting with a letter or digit, costs one set look-up.)
    """
    if not text:
        return text
    first = text[0]
    if first in FORMULA_TRIGGERS or (first.isspace() and text.lstrip()[:1] in FORMULA_TRIGGERS):
        return "'" + text
    return text


@dataclass(frozen=True)
class Column:
    """One CSV column: its header and how to read the cell from a case."""

    header: str
    cell: Callable[[Case], str]


def _moment(zone: tzinfo, moment: datetime | None) -> str:
    # ISO 8601 with the viewer's offset: unambiguous for people and for spreadsheets.
    # (Parsed times are always aware, so astimezone() is enough: localtime() checks again.)
    return "" if moment is None else moment.astimezone(zone).isoformat("T", "seconds")


def _standard_cells(zone: tzinfo) -> dict[str, Callable[[Case], str]]:
    """The case browser's columns (presentation.COLUMNS) as plain text."""
    return {
        "id": lambda case: case.id,
        "title": lambda case: case.title,
        "status": lambda case: case.status_label,
        "priority": lambda case: case.priority_label,
        "type": lambda case: case.type_label,
        "about": lambda case: case.about,
        "requester": lambda case: case.requester_name,
        "requester_email": lambda case: case.requester_email,
        "requester_phone": lambda case: case.requester_phone,
        "agent": lambda case: case.agent_name,
        "group": lambda case: case.group_name or case.group_id,
        "created": lambda case: _moment(zone, case.create_at),
        "updated": lambda case: _moment(zone, case.update_at),
    }


# Every other field of a case, for `?fields=all`, after the browser's columns.
EXTRA_COLUMNS: tuple[tuple[str, Callable[[Case], str]], ...] = (
    ("Description", lambda case: case.description),
    ("Requester id", lambda case: case.requester_id),
    ("Requester type", lambda case: case.requester_type.capitalize()),
    ("Agent id", lambda case: case.agent_id),
    ("Group id", lambda case: case.group_id),
    ("Form", lambda case: case.form_name),
    ("Resolution", lambda case: case.resolution),
)


def _custom_cell(field: CaseField) -> Callable[[Case], str]:
    options = {option.key: option.value for option in field.options}

    def cell(case: Case) -> str:
        item = case.custom_field(field.key)
        if item is None:
            return ""
        value = item.value
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, tuple):
            return ", ".join(options.get(str(part), str(part)) for part in value)
        if value is None:
            return ""
        label = item.label if isinstance(item.label, str) else ""
        return options.get(str(value)) or label or str(value)

    return cell


def export_columns(
    keys: Sequence[str],
    *,
    all_fields: bool,
    custom_fields: Sequence[CaseField],
    zone: tzinfo,
) -> list[Column]:
    """The columns of an export: the visible ones, or with `all_fields` every field there is,
    custom fields under the names people know them by."""
    cells = _standard_cells(zone)
    if not all_fields:
        return [Column(COLUMNS[key], cells[key]) for key in keys]
    columns = [Column(header, cells[key]) for key, header in COLUMNS.items()]
    columns += [Column(header, cell) for header, cell in EXTRA_COLUMNS]
    taken = {column.header.casefold() for column in columns}
    for field in custom_fields:
        header = field.name or field.key
        if header.casefold() in taken:
            header = f"{header} ({field.key})"
        taken.add(header.casefold())
        columns.append(Column(header, _custom_cell(field)))
    return columns


class _PageFailed(Exception):
    def __init__(self, number: int, error: TalkdeskError) -> None:
        super().__init__(error.message)
        self.number = number
        self.error = error


def fetch_page(
    client: TalkdeskClient, query: CaseQuery, number: int, stopped: threading.Event
) -> CasePage:
    """One page of the export, tried again a couple of times if Talkdesk fails in passing
    (not once the export has `stopped`: failed elsewhere, or the download was closed)."""
    attempt = 1
    while True:
        try:
            return client.list_cases(query.replace(page=number))
        except (RateLimited, UpstreamError, UpstreamTimeout) as exc:
            wait = exc.retry_after if isinstance(exc, RateLimited) else RETRY_PAUSE * attempt
            if attempt >= PAGE_ATTEMPTS or wait > RETRY_PAUSE_MAX:
                raise
            logger.info("export page %d: %s; trying again in %.1f s", number, exc.message, wait)
            if stopped.wait(wait):
                raise
            attempt += 1


def pages_in_order(
    first: CasePage,
    fetch: Callable[[int, threading.Event], CasePage],
    *,
    workers: int = EXPORT_WORKERS,
) -> Generator[CasePage]:
    """`first`, then every following page in order, at most `workers` being fetched at once.

    The next pages are requested before a page is handed on, so fetching overlaps writing;
    a page is held only from its arrival until it has been written. Raises _PageFailed for
    the first page (in order) that could not be fetched; pages still in flight are dropped.
    """
    page_count = first.page_count
    if page_count <= 1:
        yield first
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="casebook-export")
    stopped = threading.Event()
    pending: deque[tuple[int, Future[CasePage]]] = deque()
    following = first.page + 1

    def top_up() -> None:
        nonlocal following
        while following <= page_count and len(pending) < workers:
            pending.append((following, pool.submit(fetch, following, stopped)))
            following += 1

    try:
        top_up()
        yield first
        while pending:
            number, future = pending.popleft()
            try:
                page = future.result()
            except TalkdeskError as exc:
                raise _PageFailed(number, exc) from exc
            del future  # it keeps its result: only `page` may hold the page now
            top_up()
            yield page
            if not page.cases:
                return  # the result shrank while we read it: nothing further to find
            del page  # written: not kept while the next one is awaited
    finally:
        # Also on a closed download: queued pages are cancelled, running ones finish their
        # current request on their own (bounded by the transport's budget), never waited for.
        stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)


class _Line:
    """csv.writer's file: it keeps the last rows written until taken."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()

    def write(self, text: str) -> int:
        return self._buffer.write(text)

    def take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


def csv_chunks(
    columns: Sequence[Column],
    pages: Generator[CasePage],
    *,
    total: int,
    page_count: int,
    describe: str = "export",
) -> Generator[bytes]:
    """The CSV file: a BOM and the header, then one chunk per page; if a page fails, a last
    row saying the export is incomplete, how far it got and why."""
    out = _Line()
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow([column.header for column in columns])
    written = 0
    number = 0
    previous_ids: set[str] = set()
    started = time.monotonic()
    with contextlib.closing(pages):
        try:
            for page in pages:
                number = page.page
                # Pages fetched moments apart can overlap by a row or two if cases moved
                # meanwhile; a case is written once.
                fresh = [case for case in page.cases if case.id not in previous_ids]
                writer.writerows(
                    [neutralise(column.cell(case)) for column in columns] for case in fresh
                )
                written += len(fresh)
                previous_ids = {case.id for case in page.cases}
                del page, fresh  # only the CSV text is needed from here on
                yield out.take()
        except _PageFailed as failure:
            logger.warning(
                "%s incomplete: page %d of %d failed (%s); %d of %d cases written",
                describe, failure.number, page_count, failure.error.message, written, total,
            )  # fmt: skip
            writer.writerow(
                [
                    f"# EXPORT INCOMPLETE: Talkdesk failed on page {failure.number:,} of "
                    f"{page_count:,} ({failure.error.message}); {written:,} of {total:,} cases "
                    "written. Export again for the whole list."
                ]
            )
            yield out.take()
            return
        except GeneratorExit:
            logger.info("%s abandoned by the client after %d of %d cases", describe, written, total)
            raise
        except Exception:
            # A bug of ours must not pass for the end of the list either.
            logger.exception("%s failed on page %d", describe, number + 1)
            writer.writerow(
                [
                    f"# EXPORT INCOMPLETE: Casebook failed after page {number:,} of "
                    f"{page_count:,}; {written:,} of {total:,} cases written. Export again "
                    "for the whole list."
                ]
            )
            yield out.take()
            return
    if written != total:
        # Cases changed while the export ran (a status edit under a status filter, say).
        logger.info("%s wrote %d cases where Talkdesk counted %d", describe, written, total)
    logger.info(
        "%s finished: %d cases, %d pages in %.1f s",
        describe, written, page_count, time.monotonic() - started,
    )  # fmt: skip


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


async def _async_chunks(chunks: Generator[bytes]) -> AsyncIterator[bytes]:
    """A sync chunk generator served from ASGI without buffering it whole: each chunk is
    pulled in a worker thread, so the event loop never blocks on Talkdesk."""
    pull = sync_to_async(_next_chunk, thread_sensitive=False)
    try:
        while (chunk := await pull(chunks)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


def pinned(query: CaseQuery, now: datetime) -> CaseQuery:
    """The query for an export: pages of 500 in an order that stays put while it is read.

    Without an order, the browser's default (newest first) is made explicit; and cases created
    after the export started are left out, so new cases cannot push rows across the page
    boundaries of a newest-first export.
    """
    changes: dict[str, Any] = {"page": 1, "per_page": EXPORT_PER_PAGE}
    if not query.order_by:
        changes |= {"order_by": "create_at", "sort": "DESC"}
    elif not query.sort:
        changes["sort"] = "DESC"  # what the browser shows for a column without a direction
    created = query.create_at
    if created is None:
        changes["create_at"] = DateRange(end=now)
    elif (created.end is None or created.end > now) and (
        created.start is None or created.start <= now
    ):
        changes["create_at"] = DateRange(start=created.start, end=now)
    return query.replace(**changes)


def filename(summary_text: str, moment: datetime) -> str:
    """`casebook-<the filter in words>-<YYYYMMDD-HHMM>.csv`, ASCII only and of bounded length."""
    slug = slugify(summary_text)
    if len(slug) > FILENAME_SLUG_MAX:
        slug = slug[: FILENAME_SLUG_MAX + 1].rsplit("-", 1)[0][:FILENAME_SLUG_MAX]
    slug = slug.strip("-_") or "cases"
    return f"casebook-{slug}-{moment:%Y%m%d-%H%M}.csv"


def _problem(status: int, message: str, back: str) -> HttpResponse:
    # Plain text: the export link is opened as a download or a new tab, never swapped by htmx.
    text = f"Casebook could not export these cases.\n\n{message}\n\nBack to the cases: {back}\n"
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _browser_url(params: QueryDict) -> str:
    kept = params.copy()
    for name in (*ALL_FIELDS_PARAMETERS, "case", "refresh", "page", "per_page"):
        kept.pop(name, None)
    encoded = kept.urlencode()
    return f"/cases/?{encoded}" if encoded else "/cases/"


def _form_errors(form: CaseFilterForm) -> str:
    lines = []
    for name, errors in form.errors.items():
        label = (
            ""
            if name == "__all__"
            else str(form.fields[name].label)
            if name in form.fields
            else name
        )
        lines += [f"- {label}: {error}" if label else f"- {error}" for error in errors]
    return "These filters are not valid, so nothing was sent to Talkdesk:\n" + "\n".join(lines)


@require_GET
@cache_control(private=True, no_store=True)
def export_csv(request: HttpRequest) -> HttpResponseBase:
    params = request.GET
    back = _browser_url(params)
    all_fields = any(params.get(name) == "all" for name in ALL_FIELDS_PARAMETERS)
    zone = timezone.get_current_timezone()
    started = timezone.now()
    try:
        client = client_for(request.user)
        wants_fields = all_fields or any(name.startswith(CUSTOM_FIELD_PREFIX) for name in params)
        fields = case_fields(client) if wants_fields else ()
    except (NotConnected, Unauthorized):
        # The case browser explains the connection and offers to (re)connect.
        return HttpResponseRedirect(back)
    except TalkdeskError as exc:
        return _problem(error_status(exc), exc.message, back)
    form = CaseFilterForm(params, custom_fields=fields)
    if not form.is_valid():
        return _problem(400, _form_errors(form), back)
    query = pinned(form.to_query(now=started), started)
    try:
        fan_out = fan_out_client_for(request.user)
        first = fan_out.list_cases(query)
    except (NotConnected, Unauthorized):
        return HttpResponseRedirect(back)
    except TalkdeskError as exc:
        response = _problem(error_status(exc), exc.message, back)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response

    people = agents(client, request.user.pk) if params.get("agent_id") else {}
    name = filename(
        summary(active_filters(form, params, people)), timezone.localtime(started, zone)
    )
    columns = export_columns(
        chosen_columns(params), all_fields=all_fields, custom_fields=fields, zone=zone
    )
    pages = pages_in_order(
        first, lambda number, stopped: fetch_page(fan_out, query, number, stopped)
    )
    chunks = csv_chunks(
        columns,
        pages,
        total=first.total,
        page_count=first.page_count,
        # The filename is left out on purpose: it spells the filter, which may be an email.
        describe=f"export of {first.total} cases for user {request.user.pk}",
    )
    streaming = StreamingHttpResponse(
        _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks,
        content_type="text/csv; charset=utf-8",
    )
    streaming["Content-Disposition"] = f'attachment; filename="{name}"'
    streaming["X-Content-Type-Options"] = "nosniff"
    # Proxies such as nginx would otherwise hold the stream back until it is complete.
    streaming["X-Accel-Buffering"] = "no"
    return streaming


__all__ = [
    "EXPORT_WORKERS",
    "Column",
    "csv_chunks",
    "export_columns",
    "export_csv",
    "fetch_page",
    "filename",
    "neutralise",
    "pages_in_order",
    "pinned",
]
