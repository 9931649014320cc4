"""/views/: saved and shared views of the case browser, and the sidebar's pinned views.

A saved view is a /cases/ URL with a name: the filters as the dashboard writes them (relative
dates stay relative) plus the chosen columns. Opening one redirects to /cases/ with those
parameters, so the cases always come with the viewer's own Talkdesk token; sharing a view
shares its filters, never anyone's data access. Who may see a view is decided here, in each
view function, through `SavedView.objects.visible_to()`: a view you cannot see is a 404 for
every action, and a view you can see but do not own is a 403 for the owner's actions.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from dashboard.connection import NotConnected, client_for, fan_out_client_for
from dashboard.forms import CUSTOM_FIELD_PREFIX, CaseFilterForm
from dashboard.models import SavedView, SavedViewVisit
from dashboard.presentation import COLUMNS, active_filters, summary
from dashboard.talkdesk import CaseField, TalkdeskClient, TalkdeskError
from dashboard.views.cases import agents, case_fields
from dashboard.views.queues import COUNT_CACHE_SECONDS, Count, CountBatch, count_parameters

# Kept with the filters: presentation the person chose. Everything else that is not one of
# the form's parameters (page, the open case, refresh, anything unknown) is dropped.
PRESENTATION_KEPT = "columns"
# The order parameters are written in a view's URL: the form's own order, custom fields, then
# columns. JSON objects keep no order on PostgreSQL, so the URL is never built from it.
_FORM_ORDER = {name: index for index, name in enumerate(CaseFilterForm.base_fields)}
_NEVER_STORED = frozenset({"page"})


class SignedInRequest(HttpRequest):
    # LoginRequiredMiddleware lets no anonymous request reach these views.
    user: User
    htmx: HtmxDetails


def _order(name: str) -> tuple[int, str]:
    if name in _FORM_ORDER:
        return _FORM_ORDER[name], ""
    if name.startswith(CUSTOM_FIELD_PREFIX):
        return len(_FORM_ORDER), name
    return len(_FORM_ORDER) + 1, name


def to_query_dict(parameters: Mapping[str, Any]) -> QueryDict:
    """A stored view's parameters as the query string /cases/ reads, in a stable order."""
    query = QueryDict(mutable=True)
    for name in sorted(parameters, key=_order):
        value = parameters[name]
        values = value if isinstance(value, list) else [value]
        query.setlist(name, [str(item) for item in values])
    return query


def cases_url(query: QueryDict) -> str:
    encoded = query.urlencode()
    return f"/cases/?{encoded}" if encoded else "/cases/"


def _talkdesk(user: User) -> tuple[TalkdeskClient | None, tuple[CaseField, ...] | None]:
    """The person's client and their account's custom fields; None for what is unavailable.

    Without the fields, custom-field filters can be neither checked nor counted, only kept.
    """
    try:
        client = client_for(user)
    except (NotConnected, TalkdeskError):
        return None, None
    try:
        return client, case_fields(client)
    except TalkdeskError:
        return client, None


def _check_filters(
    query: QueryDict, fields: Sequence[CaseField] | None
) -> tuple[dict[str, str | list[str]], list[str]]:
    """What a view saves from a /cases/ query string: (parameters, problems).

    The query goes through the case browser's form, as /cases/ itself would read it; a view is
    saved only when the form accepts it. Values are kept as written, so a view round-trips.
    """
    wanted = QueryDict(mutable=True)
    form_names = set(CaseFilterForm.base_fields) - _NEVER_STORED
    for name in query:
        if name in form_names or name.startswith(CUSTOM_FIELD_PREFIX):
            values = [value for value in query.getlist(name) if value.strip()]
            if values:
                wanted.setlist(name, values)
    if fields is None and any(name.startswith(CUSTOM_FIELD_PREFIX) for name in wanted):
        return {}, [
            "Talkdesk could not be asked which custom fields exist, so the custom-field "
            "filters cannot be checked. Try again in a moment."
        ]
    form = CaseFilterForm(wanted, custom_fields=fields or ())
    problems: list[str] = []
    if not form.is_valid():
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            problems.extend(f"{label}: {error}" if label else str(error) for error in errors)
    parameters: dict[str, str | list[str]] = {
        name: values[0] if len(values) == 1 else values
        for name in sorted(wanted, key=_order)
        if (values := wanted.getlist(name))
    }
    # Unknown columns are dropped quietly, as /cases/ itself ignores them.
    columns = [
        key.strip()
        for value in query.getlist(PRESENTATION_KEPT)
        for key in value.split(",")
        if key.strip() in COLUMNS
    ]
    if columns:
        parameters[PRESENTATION_KEPT] = ",".join(columns)
    return parameters, problems


@dataclass
class Usable:
    """A stored view checked against Talkdesk as it is today."""

    query: QueryDict  # what opening the view shows
    form: CaseFilterForm  # bound to `query`, valid (without custom fields when `complete` is False)
    dropped: list[str]  # what no longer validates, in words
    complete: bool  # False: custom-field filters were kept unchecked (fields unavailable)


def usable_parameters(parameters: Mapping[str, Any], fields: Sequence[CaseField] | None) -> Usable:
    """Leave out what no longer validates (a removed custom field, a column Casebook dropped),
    saying what, instead of failing the whole view."""
    query = to_query_dict(parameters)
    dropped: list[str] = []
    if PRESENTATION_KEPT in query:
        columns = [
            key.strip() for value in query.getlist(PRESENTATION_KEPT) for key in value.split(",")
        ]
        known = [key for key in columns if key in COLUMNS]
        dropped += [f"the column “{key}”" for key in columns if key and key not in COLUMNS]
        if known:
            query.setlist(PRESENTATION_KEPT, [",".join(known)])
        else:
            del query[PRESENTATION_KEPT]
    held_back: dict[str, list[str]] = {}
    if fields is None:
        for name in [name for name in query if name.startswith(CUSTOM_FIELD_PREFIX)]:
            held_back[name] = query.getlist(name)
            del query[name]
    form = CaseFilterForm(query, custom_fields=fields or ())
    # Each pass leaves out what failed; a second pass is needed only when a cross-field
    # check (a range's end before its start) shows up once the fields themselves are fine.
    while not form.is_valid():
        failing: list[tuple[str, str]] = []
        for name, errors in form.errors.items():
            if name == "__all__":
                failing += [
                    (
                        CUSTOM_FIELD_PREFIX + key,
                        f"the custom field “{key}”, which Talkdesk no longer has",
                    )
                    for key in form.unknown_custom_fields
                ]
            elif name in query:
                shown = ", ".join(query.getlist(name))
                failing.append((name, f"{form.fields[name].label} “{shown}” ({errors[0]})"))
        leave_out = {name: words for name, words in failing if name in query}
        if not leave_out:
            dropped.append("every filter (they could not be read)")
            query = QueryDict(mutable=True)
        for name, words in leave_out.items():
            del query[name]
            dropped.append(words)
        form = CaseFilterForm(query, custom_fields=fields or ())
    for name, values in held_back.items():
        query.setlist(name, values)
    return Usable(query, form, dropped, complete=not held_back)


class ViewSettingsForm(forms.Form):
    """A view's name and who may see it: what its owner can change after saving it."""

    name = forms.CharField(max_length=100)
    visibility = forms.ChoiceField(
        choices=SavedView.Visibility.choices, initial=SavedView.Visibility.PRIVATE
    )
    group = forms.ModelChoiceField(queryset=Group.objects.none(), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Team-scoped: a view can be shared only with a team its owner belongs to.
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ModelChoiceField)
        group_field.queryset = Group.objects.filter(user=user).order_by("name")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("visibility") == SavedView.Visibility.GROUP:
            if not cleaned.get("group"):
                self.add_error("group", "Choose the team to share it with.")
        else:
            cleaned["group"] = None
        return cleaned


class SaveViewForm(ViewSettingsForm):
    pinned = forms.BooleanField(required=False)
    # The /cases/ query string being saved (static/js/views.js fills in the one on screen).
    query = forms.CharField(required=False, max_length=20_000)


def _form_problems(form: forms.Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _new_slug(name: str) -> str:
    # A random tail keeps slugs unique without revealing that someone else chose the same name,
    # and keeps them clear of the fixed routes (/views/sidebar/).
    base = slugify(name)[:60].strip("-") or "view"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if not SavedView.objects.filter(slug=slug).exists():
            return slug


def _visible(request: SignedInRequest, slug: str) -> SavedView:
    view: SavedView = get_object_or_404(
        SavedView.objects.visible_to(request.user).select_related("owner", "group"), slug=slug
    )
    return view


def _owned(request: SignedInRequest, slug: str) -> SavedView:
    view = _visible(request, slug)
    if view.owner_id != request.user.pk:
        raise PermissionDenied("Only the owner of a view can change it.")
    return view


def _sharing(view: SavedView) -> str:
    if view.visibility == SavedView.Visibility.EVERYONE:
        return "Everyone"
    if view.visibility == SavedView.Visibility.GROUP:
        return f"Team {view.group.name}" if view.group else "Team (deleted): only you"
    return "Only you"


@dataclass(frozen=True)
class ViewRow:
    view: SavedView
    summary: str
    dropped: list[str]
    pinned: bool
    mine: bool
    sharing: str


@require_http_methods(["GET", "POST"])
@cache_control(private=True, no_store=True)
def view_list(request: SignedInRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_new(request)
    views = list(SavedView.objects.visible_to(request.user).select_related("owner", "group"))
    pinned = set(
        SavedViewVisit.objects.filter(user=request.user, pinned=True).values_list(
            "view_id", flat=True
        )
    )
    client, fields = _talkdesk(request.user)
    people = agents(client, request.user.pk)
    rows = []
    for view in views:
        usable = usable_parameters(view.parameters, fields)
        chips = active_filters(usable.form, usable.query, people)
        words = summary(chips)
        if not usable.complete:
            words += " · and custom-field filters"
        rows.append(
            ViewRow(
                view=view,
                summary=words,
                dropped=usable.dropped,
                pinned=view.pk in pinned,
                mine=view.owner_id == request.user.pk,
                sharing=_sharing(view),
            )
        )
    ctx = {
        "mine": [row for row in rows if row.mine],
        "shared": [row for row in rows if not row.mine],
        "groups": list(Group.objects.filter(user=request.user).order_by("name")),
        "visibilities": SavedView.Visibility.choices,
    }
    return render(request, "views/list.html", ctx)


def _save_new(request: SignedInRequest) -> HttpResponse:
    form = SaveViewForm(request.POST, user=request.user)
    query = QueryDict(request.POST.get("query", "")[:20_000])
    back = cases_url(query)
    if not form.is_valid():
        messages.error(request, "The view was not saved. " + _form_problems(form))
        return redirect(back)
    _, fields = _talkdesk(request.user)
    parameters, problems = _check_filters(query, fields)
    if problems:
        messages.error(request, "The view was not saved: " + " ".join(problems))
        return redirect(back)
    data = form.cleaned_data
    view = SavedView.objects.create(
        owner=request.user,
        name=data["name"],
        slug=_new_slug(data["name"]),
        parameters=parameters,
        visibility=data["visibility"],
        group=data["group"],
    )
    # Saving is looking: the "new since" dot starts from now.
    SavedViewVisit.objects.create(
        user=request.user, view=view, pinned=data["pinned"], last_seen_at=timezone.now()
    )
    messages.success(request, f"Saved the view “{view.name}”. Its link is /views/{view.slug}/.")
    return redirect(cases_url(to_query_dict(view.parameters)))


@require_GET
@cache_control(private=True, no_store=True)
def view_open(request: SignedInRequest, slug: str) -> HttpResponse:
    view = _visible(request, slug)
    _, fields = _talkdesk(request.user)
    usable = usable_parameters(view.parameters, fields)
    if usable.dropped:
        messages.warning(
            request,
            f"Some filters of “{view.name}” no longer apply and were left out: "
            + "; ".join(usable.dropped)
            + ".",
        )
    SavedViewVisit.objects.update_or_create(
        user=request.user, view=view, defaults={"last_seen_at": timezone.now()}
    )
    return redirect(cases_url(usable.query))


@require_POST
def view_edit(request: SignedInRequest, slug: str) -> HttpResponse:
    view = _owned(request, slug)
    form = ViewSettingsForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, f"“{view.name}” was not changed. " + _form_problems(form))
        return redirect("views")
    view.name = form.cleaned_data["name"]
    view.visibility = form.cleaned_data["visibility"]
    view.group = form.cleaned_data["group"]
    view.save(update_fields=["name", "visibility", "group", "updated_at"])
    messages.success(request, f"Saved “{view.name}”; shared with: {_sharing(view)}.")
    return redirect("views")


@require_POST
def view_update(request: SignedInRequest, slug: str) -> HttpResponse:
    """Re-save: the view keeps its name, link and sharing, and takes the filters on screen."""
    view = _owned(request, slug)
    query = QueryDict(request.POST.get("query", "")[:20_000])
    _, fields = _talkdesk(request.user)
    parameters, problems = _check_filters(query, fields)
    if problems:
        messages.error(request, f"“{view.name}” was not changed: " + " ".join(problems))
        return redirect(cases_url(query))
    view.parameters = parameters
    view.save(update_fields=["parameters", "updated_at"])
    SavedViewVisit.objects.update_or_create(
        user=request.user, view=view, defaults={"last_seen_at": timezone.now()}
    )
    messages.success(request, f"“{view.name}” now shows these filters.")
    return redirect(cases_url(to_query_dict(view.parameters)))


@require_POST
def view_delete(request: SignedInRequest, slug: str) -> HttpResponse:
    view = _owned(request, slug)
    view.delete()
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("views")


@require_POST
def view_duplicate(request: SignedInRequest, slug: str) -> HttpResponse:
    original = _visible(request, slug)
    copy = SavedView.objects.create(
        owner=request.user,
        name=f"Copy of {original.name}"[:100],
        slug=_new_slug(original.name),
        parameters=original.parameters,
    )
    SavedViewVisit.objects.create(user=request.user, view=copy, last_seen_at=timezone.now())
    messages.success(request, f"“{copy.name}” is yours now, visible only to you.")
    return redirect("views")


@require_POST
def view_pin(request: SignedInRequest, slug: str) -> HttpResponse:
    """Pin or unpin a view in one's own sidebar; anyone who can see a view may pin it."""
    view = _visible(request, slug)
    visit, _ = SavedViewVisit.objects.get_or_create(user=request.user, view=view)
    visit.pinned = request.POST.get("pinned") == "1"
    # Pinning is looking too: the dot then means "new since I pinned it".
    visit.last_seen_at = visit.last_seen_at or timezone.now()
    visit.save(update_fields=["pinned", "last_seen_at"])
    return redirect("views")


@dataclass(frozen=True)
class PinnedItem:
    view: SavedView
    count: Count | None
    failed: bool
    new: bool
    current: bool


@require_GET
@cache_control(private=True, no_store=True)
def sidebar(request: SignedInRequest) -> HttpResponse:
    """The pinned views with live counts: an htmx fragment loaded after the page, so a slow
    Talkdesk never delays a page; without a connection it lists just the names."""
    visits = list(
        SavedViewVisit.objects.filter(
            user=request.user,
            pinned=True,
            view__in=SavedView.objects.visible_to(request.user),
        )
        .select_related("view")
        .order_by("view__name", "view_id")
    )
    current = _current_filters(request)
    results: dict[str, Count | TalkdeskError] = {}
    keys: dict[int, str] = {}
    if visits:
        try:
            client = fan_out_client_for(request.user)
        except (NotConnected, TalkdeskError):
            client = None
        if client is not None:
            try:
                fields: tuple[CaseField, ...] | None = case_fields(client)
            except TalkdeskError:
                fields = None
            batch = CountBatch(client, request.user.pk, max_age=COUNT_CACHE_SECONDS)
            for visit in visits:
                usable = usable_parameters(visit.view.parameters, fields)
                if usable.complete:
                    keys[visit.pk] = batch.add(usable.query, usable.form.to_query())
            results = batch.results()
    items = []
    for visit in visits:
        result = results.get(keys.get(visit.pk, ""))
        count = result if isinstance(result, Count) else None
        newest = count.newest_update if count else None
        items.append(
            PinnedItem(
                view=visit.view,
                count=count,
                failed=isinstance(result, TalkdeskError),
                new=bool(newest and visit.last_seen_at and newest > visit.last_seen_at),
                current=current is not None
                and current == count_parameters(to_query_dict(visit.view.parameters)),
            )
        )
    ctx = {"items": items, "on_views_page": _current_path(request) == "/views/"}
    return render(request, "_sidebar.html#pinned", ctx)


def _current_path(request: SignedInRequest) -> str:
    return urlsplit(request.htmx.current_url or "").path


def _current_filters(request: SignedInRequest) -> str | None:
    """The filters of the /cases/ page the sidebar was loaded into, to mark its view."""
    url = urlsplit(request.htmx.current_url or "")
    if url.path != "/cases/" or not url.query:
        return None
    return count_parameters(QueryDict(url.query))
