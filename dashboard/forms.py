"""The case filter form: one field per parameter of GET /cm/core/va/cases, same names.

The dashboard URL speaks the API's language (DESIGN §1.2), so this form is bound to
`request.GET` as it is. It checks every value against the contract's own limits before any
upstream call, and turns a valid URL into a `CaseQuery`. Date ranges are the one place the
URL differs from the wire: `create_at_after` / `create_at_before` (and `update_at_…`) take a
date, a date-time or a relative expression that stays relative in a bookmark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import timezone

from dashboard.talkdesk import CaseField
from dashboard.talkdesk.params import (
    LABELS,
    MAX_LENGTHS,
    ORDER_BY,
    PAGE_MAX,
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    PRIORITIES,
    REQUESTER_TYPES,
    SORTS,
    STATUSES,
    TYPES,
    CaseQuery,
    CustomFieldFilter,
    DateRange,
    normalise_enum,
    normalise_requester_type,
)

PER_PAGE_CHOICES = (25, 50, 100, 250, 500)
MAX_IDS = 500
CUSTOM_FIELD_PREFIX = "cf_"
RANGE_FIELDS = ("create_at_after", "create_at_before", "update_at_after", "update_at_before")

# Relative expressions a bookmark keeps: "-24h", "-7d", "today", "week", "month".
PRESETS: dict[str, str] = {
    "today": "today",
    "-24h": "last 24 hours",
    "-7d": "last 7 days",
    "-30d": "last 30 days",
    "week": "this week",
    "month": "this month",
}
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_RELATIVE = re.compile(r"-(\d{1,5})([hd])")
_ID_SEPARATORS = re.compile(r"[\s,;]+")


def resolve_moment(value: str, *, end_of_day: bool, now: datetime | None = None) -> datetime:
    """Turn a URL's date, date-time or relative expression into an aware instant.

    A bare date means that whole day in the viewer's timezone, so as a lower bound it is
    the day's first instant and as an upper bound its last. Raises ValueError.
    """
    zone = timezone.get_current_timezone()
    now = (now or timezone.now()).astimezone(zone)
    text = value.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight
    if text == "week":
        return midnight - timedelta(days=midnight.weekday())
    if text == "month":
        return midnight.replace(day=1)
    if match := _RELATIVE.fullmatch(text):
        amount, unit = int(match[1]), match[2]
        hours = amount if unit == "h" else amount * 24
        if hours > 24 * 3660:
            raise ValueError("Relative ranges reach back at most ten years.")
        return now - timedelta(hours=hours)
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.strip().replace(" ", "T").replace("z", "Z"))
        except ValueError:
            raise ValueError(
                "Use a date (2024-05-31), a date and time (2024-05-31T14:00), "
                "or one of today, week, month, -24h, -7d, -30d."
            ) from None
    else:
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    moment = timezone.make_aware(moment, zone) if timezone.is_naive(moment) else moment
    # The wire format is a UTC instant between 1970 and 9999 (talkdesk-api.md §2.3).
    if not EARLIEST <= moment <= LATEST:
        raise ValueError("Dates must fall between 1970 and 9999.")
    return moment


class EnumMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts the API's values in any letter case with `_`, `-` or space (`on-hold`)."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value: Any) -> list[str]:
        items = (
            normalise_enum(str(item)) for item in super().to_python(value) if str(item).strip()
        )
        return list(dict.fromkeys(items))  # ?status=OPEN&status=open is one filter


class EnumChoiceField(forms.ChoiceField):
    def __init__(self, *, normalise: Any = normalise_enum, **kwargs: Any) -> None:
        self._normalise = normalise
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return self._normalise(text) if text else ""


class RepeatedKeysTextarea(forms.Textarea):
    """A textarea that also reads repeated keys (`?ids=1&ids=2`) as one list."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        formatted: str | None = super().format_value(value)
        return formatted


class CaseIdsField(forms.Field):
    """Case ids pasted as a list: separated by commas, spaces or new lines, or repeated keys."""

    widget = RepeatedKeysTextarea(attrs={"rows": 2, "placeholder": "20808, 20807"})

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value or ""]
        ids = [part for item in items for part in _ID_SEPARATORS.split(str(item)) if part]
        return list(dict.fromkeys(ids))

    def validate(self, value: list[str]) -> None:
        bad = [case_id for case_id in value if not case_id.isascii() or not case_id.isdigit()]
        if bad:
            shown = ", ".join(bad[:3]) + ("…" if len(bad) > 3 else "")
            raise forms.ValidationError(f"Case ids are numbers; these are not: {shown}")
        if any(len(case_id) > 19 for case_id in value):
            raise forms.ValidationError("A case id has at most 19 digits.")
        if len(value) > MAX_IDS:
            raise forms.ValidationError(f"Paste at most {MAX_IDS} case ids at a time.")


class ListField(forms.Field):
    """Several free-text values from repeated keys (`about`)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, item_max_length: int, **kwargs: Any) -> None:
        self.item_max_length = item_max_length
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value] if value else []
        return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))

    def validate(self, value: list[str]) -> None:
        too_long = [item for item in value if len(item) > self.item_max_length]
        if too_long:
            raise forms.ValidationError(
                f"Each value is at most {self.item_max_length} characters "
                f"(“{too_long[0][:40]}” is longer)."
            )
        # The contract caps the whole array too (maxLength 255 on its JSON form).
        if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) > 255:
            raise forms.ValidationError("Too many values: Talkdesk accepts 255 characters in all.")


class MomentField(forms.CharField):
    """One end of a date range; the value stays as written (relative stays relative)."""

    def __init__(self, *, end_of_day: bool, placeholder: str, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        widget = forms.TextInput(attrs={"placeholder": placeholder, "autocomplete": "off"})
        super().__init__(required=False, max_length=64, widget=widget, **kwargs)

    def validate(self, value: str) -> None:
        super().validate(value)
        if value:
            try:
                resolve_moment(value, end_of_day=self.end_of_day)
            except (ValueError, OverflowError) as exc:
                raise forms.ValidationError(str(exc)) from None


def _label_choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, LABELS.get(value, value)) for value in values]


def _text(name: str, label: str, **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=MAX_LENGTHS[name], **kwargs)


class CaseFilterForm(forms.Form):
    """Every API parameter under its own name, plus the URL-only range ends and cf_ fields."""

    page = forms.IntegerField(required=False, min_value=1, max_value=PAGE_MAX)
    per_page = forms.IntegerField(
        label="Rows per page", required=False, min_value=1, max_value=PER_PAGE_MAX
    )
    ids = CaseIdsField(label="Case ids", required=False)
    agent_id = _text("agent_id", "Agent")
    agent_name = _text("agent_name", "Agent name")
    agent_email = _text("agent_email", "Agent email")
    requester_type = EnumChoiceField(
        label="Requester is",
        required=False,
        choices=[("", "Anyone"), *_label_choices(REQUESTER_TYPES)],
        normalise=normalise_requester_type,
    )
    requester_id = _text("requester_id", "Requester id")
    requester_name = _text("requester_name", "Requester name")
    requester_email = _text("requester_email", "Requester email")
    requester_phone = _text("requester_phone", "Requester phone")
    title = _text("title", "Title contains")
    description = _text("description", "Description contains")
    status = EnumMultipleChoiceField(
        label="Status", required=False, choices=_label_choices(STATUSES)
    )
    priority = EnumMultipleChoiceField(
        label="Priority", required=False, choices=_label_choices(PRIORITIES)
    )
    type = EnumMultipleChoiceField(label="Type", required=False, choices=_label_choices(TYPES))
    about = ListField(label="About", required=False, item_max_length=MAX_LENGTHS["about"])
    create_at_after = MomentField(
        label="Created from", end_of_day=False, placeholder="2024-05-01 or -7d"
    )
    create_at_before = MomentField(label="Created to", end_of_day=True, placeholder="2024-05-31")
    update_at_after = MomentField(
        label="Updated from", end_of_day=False, placeholder="today, week, -24h"
    )
    update_at_before = MomentField(label="Updated to", end_of_day=True, placeholder="-3d")
    order_by = EnumChoiceField(
        label="Sort by",
        required=False,
        choices=[("", "Talkdesk's default"), *_label_choices(ORDER_BY)],
        normalise=lambda value: value.strip().lower(),
    )
    sort = EnumChoiceField(
        label="Direction", required=False, choices=[("", "Default"), *_label_choices(SORTS)]
    )

    def __init__(
        self, data: Any = None, *, custom_fields: Sequence[CaseField] = (), **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.custom_fields = {field.key: field for field in custom_fields if field.active}
        for field in self.custom_fields.values():
            self.fields[CUSTOM_FIELD_PREFIX + field.key] = _custom_field_input(field)
        self.unknown_custom_fields = sorted(
            name[len(CUSTOM_FIELD_PREFIX) :]
            for name in (data or {})
            if name.startswith(CUSTOM_FIELD_PREFIX) and name not in self.fields
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for prefix in ("create_at", "update_at"):
            after, before = cleaned.get(f"{prefix}_after"), cleaned.get(f"{prefix}_before")
            if after and before:
                start = resolve_moment(after, end_of_day=False)
                end = resolve_moment(before, end_of_day=True)
                if start > end:
                    self.add_error(f"{prefix}_before", "The end is before the start.")
        if self.unknown_custom_fields:
            raise forms.ValidationError(
                "Talkdesk has no custom field "
                + ", ".join(f"“{key}”" for key in self.unknown_custom_fields)
                + "."
            )
        return cleaned

    def to_query(self, *, now: datetime | None = None) -> CaseQuery:
        data = self.cleaned_data
        ranges: dict[str, DateRange | None] = {}
        for prefix in ("create_at", "update_at"):
            after, before = data.get(f"{prefix}_after"), data.get(f"{prefix}_before")
            ranges[prefix] = (
                DateRange(
                    start=resolve_moment(after, end_of_day=False, now=now) if after else None,
                    end=resolve_moment(before, end_of_day=True, now=now) if before else None,
                )
                if after or before
                else None
            )
        custom = tuple(
            CustomFieldFilter(key=key, value=value)
            for key in self.custom_fields
            if (value := data.get(CUSTOM_FIELD_PREFIX + key)) not in (None, "", [], ())
        )
        return CaseQuery(
            page=data.get("page") or 1,
            per_page=data.get("per_page") or PER_PAGE_DEFAULT,
            ids=tuple(data.get("ids") or ()),
            agent_id=data.get("agent_id", ""),
            agent_name=data.get("agent_name", ""),
            agent_email=data.get("agent_email", ""),
            requester_type=data.get("requester_type", ""),
            requester_id=data.get("requester_id", ""),
            requester_name=data.get("requester_name", ""),
            requester_email=data.get("requester_email", ""),
            requester_phone=data.get("requester_phone", ""),
            title=data.get("title", ""),
            description=data.get("description", ""),
            status=tuple(data.get("status") or ()),
            priority=tuple(data.get("priority") or ()),
            type=tuple(data.get("type") or ()),
            about=tuple(data.get("about") or ()),
            create_at=ranges["create_at"],
            update_at=ranges["update_at"],
            order_by=data.get("order_by", ""),
            sort=data.get("sort", ""),
            custom_fields=custom,
        )


class CheckboxFilterField(forms.ChoiceField):
    """A Talkdesk checkbox as any / yes / no."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("", "Any"), ("true", "Yes"), ("false", "No")], **kwargs)

    def to_python(self, value: Any) -> Any:
        text = str(value or "").strip().lower()
        return {"yes": "true", "1": "true", "no": "false", "0": "false"}.get(text, text)

    def clean(self, value: Any) -> bool | None:
        text = super().clean(value)
        return None if text == "" else text == "true"


class NumberFilterField(forms.CharField):
    def clean(self, value: Any) -> int | float | None:
        text = str(super().clean(value) or "").strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError("Enter a number, like 42 or 19.90.") from None
        if not number.is_finite():
            raise forms.ValidationError("Enter a finite number.")
        return int(number) if number == number.to_integral_value() else float(number)


class DateFilterField(forms.DateField):
    def clean(self, value: Any) -> str | None:
        day = super().clean(value)
        return day.isoformat() if isinstance(day, date) else None


def _custom_field_input(field: CaseField) -> forms.Field:
    label = field.name or field.key
    common: dict[str, Any] = {"label": label, "required": False}
    options = [(option.key, option.value) for option in field.options]
    match field.kind:
        case "checkbox":
            return CheckboxFilterField(**common)
        case "dropdown" | "dependent_field":
            return forms.ChoiceField(choices=[("", "Any"), *options], **common)
        case "multi_select":
            return _MultiOptionField(choices=options, **common)
        case "numeric" | "decimal":
            return NumberFilterField(max_length=64, **common)
        case "date":
            return DateFilterField(**common)
        case _:
            return forms.CharField(max_length=MAX_LENGTHS["custom_fields"], **common)


class _MultiOptionField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def clean(self, value: Any) -> tuple[str, ...]:
        return tuple(super().clean(value))


__all__ = [
    "CUSTOM_FIELD_PREFIX",
    "PER_PAGE_CHOICES",
    "PRESETS",
    "RANGE_FIELDS",
    "CaseFilterForm",
    "resolve_moment",
]
