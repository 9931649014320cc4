"""The case browser (/cases/) and one case (/cases/<id>/)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url
from django_htmx.middleware import HtmxDetails

from dashboard.connection import NotConnected, account_key, client_for
from dashboard.forms import (
    CUSTOM_FIELD_PREFIX,
    PER_PAGE_CHOICES,
    PRESETS,
    RANGE_FIELDS,
    CaseFilterForm,
)
from dashboard.presentation import (
    COLUMNS,
    DEFAULT_COLUMNS,
    TRANSIENT_PARAMETERS,
    active_filters,
    chosen_columns,
    pager,
    priority_badge,
    sort_headers,
    status_badge,
    summary,
    table_body,
    view_link,
)
from dashboard.talkdesk import (
    Case,
    CaseField,
    CasePage,
    CaseQuery,
    Forbidden,
    RateLimited,
    TalkdeskClient,
    TalkdeskError,
    Unauthorized,
    UpstreamTimeout,
    User,
)
from dashboard.talkdesk.params import PER_PAGE_DEFAULT, encode_case_query

logger = logging.getLogger(__name__)

METADATA_CACHE_SECONDS = 300


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _cache_key(*parts: str) -> str:
    return "casebook:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def case_fields(client: TalkdeskClient) -> tuple[CaseField, ...]:
    """The account's custom fields, shared by the account's users for a few minutes."""
    key = _cache_key("fields", account_key())
    fields: tuple[CaseField, ...] | None = cache.get(key)
    if fields is None:
        fields = client.list_case_fields()
        cache.set(key, fields, METADATA_CACHE_SECONDS)
    return fields


def agents(client: TalkdeskClient | None, viewer_id: object) -> dict[str, User]:
    """Talkdesk users by id for the agent picker; {} when unavailable (the page still works).

    Cached per viewer, like everything read with a person's token: what one person's Talkdesk
    access shows is never shown to another. Without a client, only what is cached is given.
    """
    key = _cache_key("users", account_key(), str(viewer_id))
    users: tuple[User, ...] | None = cache.get(key)
    if users is None and client is not None:
        try:
            users = client.all_users()
        except TalkdeskError as exc:
            logger.info("agent list unavailable: %s", exc.message)
            return {}
        cache.set(key, users, METADATA_CACHE_SECONDS)
    return {user.id: user for user in sorted(users or (), key=lambda u: u.name.casefold())}


def fetch_cases(
    request: HttpRequest,
    client: TalkdeskClient,
    query: CaseQuery,
    params: QueryDict,
    *,
    refresh: bool = False,
) -> tuple[CasePage, Any]:
    """The page for this query, from the per-user cache when the same query ran moments ago.

    Keyed on the normalised wire query, except that date ranges are keyed as the URL wrote
    them (with the viewer's timezone): "-7d" resolves to a new instant every second, and
    would otherwise never hit the cache.
    """
    wire = [pair for pair in encode_case_query(query) if pair[0] not in ("create_at", "update_at")]
    ranges = [(name, params[name]) for name in RANGE_FIELDS if params.get(name)]
    zone = timezone.get_current_timezone_name()
    key = _cache_key("cases", str(request.user.pk), account_key(), zone, repr(wire + ranges))
    cached = None if refresh else cache.get(key)
    if cached is not None:
        page, fetched_at = cached
        return page, fetched_at
    page = client.list_cases(query)
    _remember_about_values(page, request.user.pk)
    fetched_at = timezone.now()
    cache.set(key, (page, fetched_at), settings.CASES_CACHE_SECONDS)
    return page, fetched_at


def error_status(error: TalkdeskError) -> int:
    """DESIGN §1.4: what an upstream failure means for our own response."""
    if isinstance(error, UpstreamTimeout):
        return 504
    if isinstance(error, RateLimited):
        return 429
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Unauthorized):
        return 200  # views show the reconnect prompt instead of an error
    return 502


@require_GET
@vary_on_headers("HX-Request")
@cache_control(private=True, no_store=True)
def case_list(request: HtmxHttpRequest) -> HttpResponse:
    # A submitted form carries every input, empty ones too; the link people share should
    # not. Browsers without htmx are sent to the clean URL, htmx is told to push it.
    canonical = _canonical(request.GET)
    full_page = not (request.htmx and not request.htmx.boosted)
    if full_page and canonical.urlencode() != request.GET.urlencode():
        return redirect(f"/cases/?{canonical.urlencode()}" if canonical else "/cases/")
    params = canonical
    columns = chosen_columns(params)
    ctx: dict[str, Any] = {
        "columns": columns,
        "per_page_choices": PER_PAGE_CHOICES,
        # The fragment's HX-Push-Url header keeps `refresh` out of the address bar.
        "refresh_url": "?" + "&".join(filter(None, [_without(params, "refresh"), "refresh=1"])),
    }
    status = 200
    flags = {} if full_page else _fragment_flags(request, params)
    # The form (agent picker, custom fields) is rendered by full pages and by fragments that
    # re-send it; other fragments need the field list only to read cf_ parameters.
    renders_form = full_page or flags["swap_form"]
    wants_fields = renders_form or any(name.startswith(CUSTOM_FIELD_PREFIX) for name in params)
    try:
        client = client_for(request.user)
        fields = case_fields(client) if wants_fields else ()
    except NotConnected:
        client, fields = None, ()
        ctx["not_connected"] = True
    except Unauthorized:  # ReconnectRequired included: the refresh token is spent
        client, fields = None, ()
        ctx["not_connected"] = ctx["reconnect"] = True
    except TalkdeskError as exc:
        client, fields = None, ()
        ctx["error"], ctx["error_status"] = exc, error_status(exc)
        status = ctx["error_status"]
    form = CaseFilterForm(params, custom_fields=fields)
    wants_agents = client is not None and (renders_form or "agent_id" in params)
    people = agents(client, request.user.pk) if wants_agents else {}
    ctx |= {"form": form, "agents": people, "custom_fields": form.custom_fields}

    if client is not None:
        if not form.is_valid():
            status = 400
        else:
            query = form.to_query()
            try:
                page, fetched_at = fetch_cases(
                    request, client, query, params, refresh=params.get("refresh") == "1"
                )
            except Unauthorized:
                ctx["not_connected"] = ctx["reconnect"] = True
            except TalkdeskError as exc:
                ctx["error"], ctx["error_status"] = exc, error_status(exc)
                status = ctx["error_status"]
            else:
                detail_query = _without(params, "case", "refresh")
                ctx |= {
                    "export_query": _without(params, "page", "per_page", "case", "refresh"),
                    "page": page,
                    "fetched_at": fetched_at,
                    "table_body": table_body(page.cases, columns, detail_query),
                    "pager": pager(params, page.page, page.page_count),
                    "headers": sort_headers(params, columns, query.order_by, query.sort),
                    "query": query,
                }
    chips = active_filters(form, params, people) if client is not None and form.is_valid() else []
    ctx |= {"chips": chips, "summary": summary(chips)}
    ctx |= _form_context(form, params, columns, chips, people, request.user.pk)
    if (case_id := params.get("case", "")).isdigit() and client is not None and full_page:
        ctx |= _detail_context(client, case_id)

    if not full_page:
        shown = _without(params, "refresh")
        fragment = ctx | flags
        response = render(request, "cases/list.html#results", fragment, status=status)
        return push_url(response, f"/cases/?{shown}" if shown else "/cases/")
    return render(request, "cases/list.html", ctx, status=status)


def _canonical(query: QueryDict) -> QueryDict:
    """The query without empty values (nor the default page size), in the order given."""
    clean = QueryDict(mutable=True)
    for name, values in query.lists():
        kept = [value for value in values if value.strip()]
        if name == "per_page" and kept == [str(PER_PAGE_DEFAULT)]:
            continue
        if kept:
            clean.setlist(name, kept)
    return clean


def _fragment_flags(request: HtmxHttpRequest, params: QueryDict) -> dict[str, bool]:
    """Which parts of the page come back out of band with the results.

    The form's own changes do not re-render the form (the person may be typing in it); a
    chip, a preset, a header or the column menu bring it back in step with the URL; the
    pager does not need to (rendering the form is a quarter of a 50-row fragment's cost).
    The form's own errors appear beside their fields, in slots swapped out of band.
    """
    if request.htmx.trigger == "filters":
        return {"swap_form": False, "swap_errors": True}
    before = _canonical(QueryDict(urlsplit(request.htmx.current_url or "").query))
    changed = _without(before, *TRANSIENT_PARAMETERS) != _without(params, *TRANSIENT_PARAMETERS)
    return {"swap_form": changed, "swap_errors": False}


QUICK_FILTERS = ("status", "priority", "type")
# Parameters shown in the bar itself; everything else counts towards the "+ Filter" badge.
BAR_PARAMETERS = {"title", "status", "priority", "type", "agent_id", "update_at_after",
                  "update_at_before", "per_page", "page", "order_by", "sort", "columns", "case",
                  "refresh"}  # fmt: skip


def _agent_name(agent_id: str, agents_by_id: dict[str, User]) -> str:
    if not agent_id:
        return ""
    agent = agents_by_id.get(agent_id)
    return agent.name if agent else agent_id


def _form_context(
    form: CaseFilterForm,
    params: QueryDict,
    columns: tuple[str, ...],
    chips: list[Any],
    agents_by_id: dict[str, User],
    viewer_id: object,
) -> dict[str, Any]:
    """What the filter bar and panel need beyond the form itself."""
    column_choices = []
    for key, label in COLUMNS.items():
        shown = key in columns
        toggled = [c for c in COLUMNS if (c in columns) != (c == key)]
        value = None if tuple(toggled) == DEFAULT_COLUMNS or not toggled else ",".join(toggled)
        column_choices.append(
            {"label": label, "shown": shown, "url": view_link(params, columns=value)}
        )
    current_after = params.get("update_at_after", "")
    update_presets = [
        {"label": "Any time", "url": view_link(params, update_at_after=None, update_at_before=None),
         "current": not current_after and not params.get("update_at_before")},
        *(
            {"label": label.capitalize(), "url": view_link(params, update_at_after=value, update_at_before=None),
             "current": current_after == value and not params.get("update_at_before")}
            for value, label in PRESETS.items()
        ),
    ]  # fmt: skip
    kept_state = [
        (name, params[name]) for name in ("order_by", "sort", "columns") if params.get(name)
    ]
    error_items = [
        ("" if name == "__all__" else str(form[name].label if name in form.fields else name), errors[0])
        for name, errors in form.errors.items()
    ] if form.is_bound else []  # fmt: skip
    per_page = params.get("per_page", "")
    return {
        "quick_filters": [form[name] for name in QUICK_FILTERS],
        "selected_agent": _agent_name(params.get("agent_id", ""), agents_by_id),
        "custom_field_inputs": [form[CUSTOM_FIELD_PREFIX + key] for key in form.custom_fields],
        "column_choices": column_choices,
        "update_presets": update_presets,
        "kept_state": kept_state,
        "error_items": error_items,
        "panel_active": sum(1 for name in set(params) if name not in BAR_PARAMETERS),
        "current_per_page": int(per_page) if per_page.isdigit() else PER_PAGE_DEFAULT,
        "timezone_name": timezone.get_current_timezone_name(),
        "about_values": _seen_about_values(viewer_id),
        "loosen": chips[-1] if chips else None,
        "first_page_url": view_link(params),
    }


def _seen_about_values(viewer_id: object) -> list[str]:
    return sorted(cache.get(_cache_key("about", account_key(), str(viewer_id))) or ())


def _remember_about_values(page: CasePage, viewer_id: object) -> None:
    """Talkdesk has no endpoint for the account's About values, so suggest those seen."""
    key = _cache_key("about", account_key(), str(viewer_id))
    seen: set[str] = set(cache.get(key) or ())
    fresh = {case.about for case in page.cases if case.about} - seen
    if fresh:
        cache.set(key, sorted(seen | fresh)[:200], 86400)


def _without(params: QueryDict, *names: str) -> str:
    remaining = params.copy()
    for name in names:
        remaining.pop(name, None)
    return remaining.urlencode()


def _detail_context(client: TalkdeskClient, case_id: str) -> dict[str, Any]:
    try:
        case = client.get_case(case_id)
    except Unauthorized:
        return {
            "detail_error": "Your Talkdesk connection needs to be renewed.",
            "detail_status": 200,
        }
    except TalkdeskError as exc:
        return {
            "detail_error": exc.message,
            "detail_status": error_status(exc) if exc.status != 404 else 404,
        }
    others: tuple[Case, ...] = ()
    others_error = ""
    if case.requester_id:
        try:
            recent = client.list_cases(
                CaseQuery(
                    requester_id=case.requester_id, per_page=6, order_by="create_at", sort="DESC"
                )
            )
            others = tuple(other for other in recent.cases if other.id != case.id)[:5]
        except TalkdeskError as exc:
            others_error = exc.message
    fields = {}
    with contextlib.suppress(TalkdeskError):
        fields = {field.key: field for field in case_fields(client)}
    custom = [
        (
            fields[item.key].name if item.key in fields else (item.name or item.key),
            _custom_display(item.value, fields.get(item.key)),
        )
        for item in case.custom_fields
    ]
    return {
        "case": case,
        "status_badge": status_badge(case.status),
        "priority_badge": priority_badge(case.priority),
        "others_badged": [(other, status_badge(other.status)) for other in others],
        "custom": custom,
        "others": others,
        "others_error": others_error,
        "detail_status": 200,
    }


def _custom_display(value: Any, field: CaseField | None) -> str:
    options = {option.key: option.value for option in field.options} if field else {}
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(options.get(str(item), str(item)) for item in value) or "—"
    if value is None or value == "":
        return "—"
    if field is not None and field.kind == "date" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value  # shown as Talkdesk wrote it rather than guessed at
        if timezone.is_aware(moment):
            return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
        return moment.strftime("%Y-%m-%d")
    return options.get(str(value), str(value))


@require_GET
@vary_on_headers("HX-Request")
@cache_control(private=True, no_store=True)
def case_detail(request: HtmxHttpRequest, case_id: str) -> HttpResponse:
    ctx: dict[str, Any] = {"case_id": case_id}
    if not case_id.isdigit() or len(case_id) > 19:
        ctx |= {"detail_error": "Case ids are numbers.", "detail_status": 404}
    else:
        try:
            client = client_for(request.user)
        except NotConnected:
            ctx["not_connected"] = True
        except Unauthorized:
            ctx["not_connected"] = ctx["reconnect"] = True
        else:
            ctx |= _detail_context(client, case_id)
    status = ctx.get("detail_status", 200)
    if request.htmx and not request.htmx.boosted:
        return render(request, "cases/detail.html#panel", ctx, status=status)
    return render(request, "cases/detail.html", ctx, status=status)


__all__ = ["CUSTOM_FIELD_PREFIX", "case_detail", "case_list"]
