"""The case-list query and the one function that turns it into wire parameters (DESIGN §1.3).

Talkdesk's documents disagree on how arrays travel (talkdesk-api.md §2.3): a JSON literal in the
only worked example, "comma-separated" in the OpenAPI text, repeated keys in its serialisation
metadata. `encode_case_query` speaks all three; JSON is the default. Custom fields and date
ranges stay JSON in every encoding where the others cannot carry them unambiguously.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

STATUSES = ("NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED")
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
TYPES = ("QUESTION", "INCIDENT", "PROBLEM", "TASK")
REQUESTER_TYPES = ("AGENT", "CONTACT")
ORDER_BY = ("create_at", "update_at")
SORTS = ("ASC", "DESC")

# Talkdesk's own spelling in its UI and help centre (talkdesk-api.md §2.2); the sort and
# order_by labels are ours, Talkdesk shows none.
LABELS: dict[str, str] = {
    "NEW": "New",
    "OPEN": "Open",
    "PENDING": "Pending",
    "ON_HOLD": "On-hold",
    "RESOLVED": "Resolved",
    "CLOSED": "Closed",
    "LOW": "Low",
    "NORMAL": "Normal",
    "HIGH": "High",
    "URGENT": "Urgent",
    "QUESTION": "Question",
    "INCIDENT": "Incident",
    "PROBLEM": "Problem",
    "TASK": "Task",
    "AGENT": "Agent",
    "CONTACT": "Contact",
    "ASC": "Oldest first",
    "DESC": "Newest first",
    "create_at": "Created",
    "update_at": "Updated",
}

# The contract's maximum lengths (OpenAPI `maxLength`, talkdesk-api.md §2.1). For the array
# parameters the number is the limit on each item.
MAX_LENGTHS: dict[str, int] = {
    "agent_id": 255,
    "agent_name": 125,
    "agent_email": 255,
    "requester_type": 255,
    "requester_id": 255,
    "requester_name": 125,
    "requester_email": 255,
    "requester_phone": 20,
    "title": 255,
    "description": 1_000_000_000,
    "status": 31,
    "priority": 31,
    "type": 31,
    "about": 31,
    "create_at": 255,
    "update_at": 255,
    "order_by": 255,
    "sort": 255,
    "custom_fields": 255,
}

PAGE_MAX = 2147483647
PER_PAGE_MAX = 500
PER_PAGE_DEFAULT = 50

CASE_QUERY_PARAMETERS: tuple[str, ...] = (
    "page",
    "per_page",
    "ids",
    "agent_id",
    "agent_name",
    "agent_email",
    "requester_type",
    "requester_id",
    "requester_name",
    "requester_email",
    "requester_phone",
    "title",
    "description",
    "status",
    "priority",
    "type",
    "about",
    "create_at",
    "update_at",
    "order_by",
    "sort",
    "custom_fields",
)

# Open ends of a one-sided range: Talkdesk documents only the two-element form.
RANGE_FLOOR = "1970-01-01T00:00:00Z"
RANGE_CEILING = "9999-12-31T23:59:59Z"

_SEPARATORS = re.compile(r"[\s_-]+")
CASE_ID = re.compile(r"[0-9]{1,19}")


# Cached: every parsed case normalises three or four of a handful of distinct values.
@functools.lru_cache(maxsize=512)
def normalise_enum(value: str) -> str:
    """Return the API's upper-case spelling: "On-hold", "on hold", "ON-HOLD" → "ON_HOLD"."""
    return _SEPARATORS.sub("_", value.strip()).upper()


def normalise_requester_type(value: str) -> str:
    """Like normalise_enum, also accepting the plural the curl sample uses ("agents")."""
    normalised = normalise_enum(value)
    return {"AGENTS": "AGENT", "CONTACTS": "CONTACT"}.get(normalised, normalised)


class ArrayEncoding(StrEnum):
    """How multi-valued parameters go on the wire (TALKDESK_ARRAY_ENCODING)."""

    JSON = "json"
    CSV = "csv"
    REPEAT = "repeat"


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of aware datetimes; either end may be open, not both."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError("A date range needs a start, an end, or both.")
        for bound in (self.start, self.end):
            if bound is not None and bound.utcoffset() is None:
                raise ValueError("Date range bounds must be timezone-aware datetimes.")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("A date range cannot end before it starts.")

    def wire_values(self) -> tuple[str, str]:
        """Both ends as UTC instants, the open end filled in."""
        return (
            RANGE_FLOOR if self.start is None else _utc_instant(self.start),
            RANGE_CEILING if self.end is None else _utc_instant(self.end),
        )


CustomFieldFilterValue = bool | int | float | str | tuple[str, ...]


@dataclass(frozen=True)
class CustomFieldFilter:
    """Match cases whose custom field `key` (e.g. "checkbox1") has `value`."""

    key: str
    value: CustomFieldFilterValue

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_LENGTHS["custom_fields"]:
            raise ValueError("A custom field filter needs a field key of at most 255 characters.")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"Custom field {self.key}: the value must be a finite number.")


@dataclass(frozen=True)
class CaseQuery:
    """Every parameter of GET /cm/core/va/cases, named exactly as the API names it.

    Enum values are normalised to the API's spelling on construction, so two queries that mean
    the same thing compare (and cache) equal. Out-of-contract values raise ValueError: the
    dashboard's form is expected to have rejected them with a readable message already.
    """

    page: int = 1
    per_page: int = PER_PAGE_DEFAULT
    ids: tuple[str, ...] = ()
    agent_id: str = ""
    agent_name: str = ""
    agent_email: str = ""
    requester_type: str = ""
    requester_id: str = ""
    requester_name: str = ""
    requester_email: str = ""
    requester_phone: str = ""
    title: str = ""
    description: str = ""
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    about: tuple[str, ...] = ()
    create_at: DateRange | None = None
    update_at: DateRange | None = None
    order_by: str = ""
    sort: str = ""
    custom_fields: tuple[CustomFieldFilter, ...] = ()

    def __post_init__(self) -> None:
        normalised: dict[str, Any] = {
            "ids": tuple(case_id.strip() for case_id in self.ids),
            "requester_type": self.requester_type and normalise_requester_type(self.requester_type),
            "status": tuple(normalise_enum(value) for value in self.status),
            "priority": tuple(normalise_enum(value) for value in self.priority),
            "type": tuple(normalise_enum(value) for value in self.type),
            "about": tuple(self.about),
            "order_by": normalise_enum(self.order_by).lower(),
            "sort": self.sort and normalise_enum(self.sort),
            "custom_fields": tuple(self.custom_fields),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        if isinstance(self.page, bool) or not 1 <= self.page <= PAGE_MAX:
            raise ValueError(f"page must be between 1 and {PAGE_MAX}.")
        if isinstance(self.per_page, bool) or not 1 <= self.per_page <= PER_PAGE_MAX:
            raise ValueError(f"per_page must be between 1 and {PER_PAGE_MAX}.")
        for case_id in self.ids:
            if not CASE_ID.fullmatch(case_id):
                raise ValueError(f"ids: {case_id!r} is not a case id (digits only).")
        closed_sets = {
            "requester_type": (
                REQUESTER_TYPES,
                (self.requester_type,) if self.requester_type else (),
            ),
            "status": (STATUSES, self.status),
            "priority": (PRIORITIES, self.priority),
            "order_by": (ORDER_BY, (self.order_by,) if self.order_by else ()),
            "sort": (SORTS, (self.sort,) if self.sort else ()),
        }
        for name, (allowed, values) in closed_sets.items():
            for value in values:
                if value not in allowed:
                    raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}.")
        for name, limit in MAX_LENGTHS.items():
            value = getattr(self, name)
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, str) and len(item) > limit:
                    raise ValueError(f"{name} must be at most {limit} characters.")
        # Admins may add case types (talkdesk-api.md §2.2), so `type` is not a closed set; an
        # empty item would still be sent as a meaningless filter.
        for name in ("type", "about"):
            if any(not item.strip() for item in getattr(self, name)):
                raise ValueError(f"{name} must not contain empty values.")

    def replace(self, **changes: Any) -> CaseQuery:
        """A copy with some parameters changed (paging, export)."""
        return dataclasses.replace(self, **changes)


def encode_case_query(
    query: CaseQuery, encoding: ArrayEncoding = ArrayEncoding.JSON
) -> list[tuple[str, str]]:
    """The query as (name, value) pairs in contract order, empty parameters left out.

    `page` and `per_page` are always sent. Arrays follow `encoding`; ranges are two UTC
    instants; custom fields are always the JSON list `[{"label": key, "value": v}]` (the
    shape of Talkdesk's own example, talkdesk-api.md §2.4).
    """
    pairs: list[tuple[str, str]] = [("page", str(query.page)), ("per_page", str(query.per_page))]
    for name in CASE_QUERY_PARAMETERS[2:]:
        value = getattr(query, name)
        if not value:
            continue
        if isinstance(value, str):
            pairs.append((name, value))
        elif isinstance(value, DateRange):
            pairs.extend(_encode_array(name, value.wire_values(), encoding))
        elif name == "custom_fields":
            filters = [{"label": item.key, "value": _json_value(item.value)} for item in value]
            pairs.append((name, _compact_json(filters)))
        else:
            pairs.extend(_encode_array(name, value, encoding))
    return pairs


def _encode_array(
    name: str, values: tuple[str, ...], encoding: ArrayEncoding
) -> list[tuple[str, str]]:
    match encoding:
        case ArrayEncoding.JSON:
            return [(name, _compact_json(list(values)))]
        case ArrayEncoding.CSV:
            # A value that itself contains a comma cannot be told apart here; only `about`
            # values could, and JSON (the default) has no such limit.
            return [(name, ",".join(values))]
        case ArrayEncoding.REPEAT:
            return [(name, value) for value in values]


def _json_value(value: CustomFieldFilterValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _utc_instant(moment: datetime) -> str:
    # isoformat() pads the year to four digits, which strftime("%Y") does not on every libc.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
