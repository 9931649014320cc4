"""Talkdesk responses as frozen dataclasses, parsed at the edge (DESIGN §3, habit 6).

Strict about shape: an unexpected type or a missing required key raises BadResponse naming
where it was found (never the value, never the body). Lenient exactly where Talkdesk's documents
disagree (talkdesk-api.md §8): enum spellings, `custom_fields` and `requester_integration` as a
JSON string or an object, `notes_title` or `note_title`, missing optional keys and null, zero
results, several date formats, the fields endpoint as a list or a wrapped list, `created_at` or
`create_at`, and the `lable` typo.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import BadResponse
from .params import CASE_ID, LABELS, normalise_enum, normalise_requester_type

JsonValue = bool | int | float | str | tuple["JsonValue", ...] | None

FIELD_KINDS = (
    "checkbox",
    "dropdown",
    "multi_select",
    "text",
    "multi_line_text",
    "numeric",
    "decimal",
    "date",
    "dependent_field",
)
_KIND_ALIASES = {"drop_down": "dropdown"}  # the OpenAPI examples spell it `drop_down1`
_TRAILING_NUMBER = re.compile(r"_?[0-9]+$")


def label_for(value: str) -> str:
    """Talkdesk's spelling of an API enum value; unknown values read as a sentence."""
    return LABELS.get(value) or value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Note:
    id: str
    title: str
    body: str
    public: bool


@dataclass(frozen=True)
class CustomFieldValue:
    """One custom field on a case: `label` is what people see, `value` what filters match."""

    key: str
    label: JsonValue
    name: str
    value: JsonValue


@dataclass(frozen=True)
class RequesterIntegration:
    integration_id: str
    external_id: str
    external_url: str
    contact_type: str
    external_sync_state: str


@dataclass(frozen=True)
class Case:
    """A case as the list (or the detail endpoint) returns it; enums in API upper case.

    The detail endpoint's documented shapes carry no dates and no requester (talkdesk-api.md
    §5.1), so `create_at`/`update_at` are None only on such a detail response.
    """

    id: str
    title: str
    description: str
    status: str
    priority: str
    type: str
    about: str
    requester_id: str
    requester_name: str
    requester_email: str
    requester_phone: str
    requester_type: str
    requester_integration: RequesterIntegration | None
    group_id: str
    group_name: str
    agent_id: str
    agent_name: str
    form_name: str
    create_at: datetime | None
    update_at: datetime | None
    custom_fields: tuple[CustomFieldValue, ...]
    notes: tuple[Note, ...]
    resolution: str
    owner_id: str

    @property
    def status_label(self) -> str:
        return label_for(self.status)

    @property
    def priority_label(self) -> str:
        return label_for(self.priority) if self.priority else ""

    @property
    def type_label(self) -> str:
        return label_for(self.type) if self.type else ""

    def custom_field(self, key: str) -> CustomFieldValue | None:
        """The custom field with this key, if the case has it."""
        return next((item for item in self.custom_fields if item.key == key), None)


@dataclass(frozen=True)
class CasePage:
    """One page of the case list. Neighbouring pages are computed, never taken from _links."""

    total: int
    count: int
    page: int
    per_page: int
    cases: tuple[Case, ...]

    @property
    def first_index(self) -> int:
        """1-based position of the first case on this page (0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.cases else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.per_page + len(self.cases) if self.cases else 0

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.page_count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class FieldOption:
    """A drop-down option; options of dependent fields carry their parent's key."""

    key: str
    value: str
    parent_key: str = ""


@dataclass(frozen=True)
class CaseField:
    id: str
    key: str
    name: str
    type_code: str
    kind: str
    options: tuple[FieldOption, ...]
    required: bool
    active: bool
    description: str = ""
    create_at: datetime | None = None
    update_at: datetime | None = None


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    active: bool


@dataclass(frozen=True)
class UserPage:
    total: int
    page: int
    per_page: int
    users: tuple[User, ...]

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


@dataclass(frozen=True)
class Me:
    """The token's user (/users/me); `id` falls back to the OpenID `sub`."""

    id: str
    name: str
    email: str
    sub: str = ""


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint granted. The token values stay out of repr (and so out of logs)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...]
    id_token: str | None = field(default=None, repr=False)


# --- parsing -------------------------------------------------------------------------------


def parse_case_page(document: Any) -> CasePage:
    """Parse a GET /cm/core/va/cases response."""
    root = _object(document, "response")
    embedded = _object(root.get("_embedded"), "_embedded")
    rows = _list(embedded.get("data"), "_embedded.data")
    return CasePage(
        total=_count(root, "total"),
        count=_count(root, "count"),
        page=_count(root, "page", minimum=1),
        per_page=_count(root, "per_page", minimum=1),
        cases=tuple(
            parse_case(row, where=f"_embedded.data[{index}]", list_row=True)
            for index, row in enumerate(rows)
        ),
    )


def parse_case(document: Any, *, where: str = "case", list_row: bool = False) -> Case:
    """Parse one case; list rows must carry their dates, detail responses may not."""
    data = _object(document, where)
    case_id = _identifier(data, "id", where)
    # Case ids are numeric strings (talkdesk-api.md §3.2). Anything else is refused here, at
    # the edge: ids end up in URLs and markup, and upstream data is untrusted.
    if not CASE_ID.fullmatch(case_id):
        raise _bad(f"{where}.id", "a numeric case id")
    return Case(
        id=case_id,
        title=_text(data, "title", where),
        description=_text(data, "description", where),
        status=normalise_enum(_text(data, "status", where, required=True)),
        priority=normalise_enum(_text(data, "priority", where)),
        type=normalise_enum(_text(data, "type", where)),
        about=_text(data, "about", where),
        requester_id=_text(data, "requester_id", where),
        requester_name=_text(data, "requester_name", where),
        requester_email=_text(data, "requester_email", where),
        requester_phone=_text(data, "requester_phone", where),
        requester_type=normalise_requester_type(_text(data, "requester_type", where)),
        requester_integration=_requester_integration(
            data.get("requester_integration"), f"{where}.requester_integration"
        ),
        group_id=_text(data, "group_id", where),
        group_name=_text(data, "group_name", where),
        agent_id=_text(data, "agent_id", where),
        agent_name=_text(data, "agent_name", where),
        form_name=_text(data, "form_name", where),
        create_at=_moment(data, ("create_at",), where, required=list_row),
        update_at=_moment(data, ("update_at",), where, required=list_row),
        custom_fields=_custom_fields(data.get("custom_fields"), f"{where}.custom_fields"),
        notes=tuple(
            _note(item, f"{where}.notes[{index}]")
            for index, item in enumerate(_list(data.get("notes"), f"{where}.notes", default=[]))
        ),
        resolution=_text(data, "resolution", where),
        owner_id=_text(data, "owner_id", where),
    )


def parse_case_fields(document: Any) -> tuple[CaseField, ...]:
    """Parse GET /cm/meta/va/fields: a list, a list wrapped in an object, or one field."""
    if isinstance(document, dict) and "key" in document:
        rows: list[Any] = [document]  # the OpenAPI schema describes a single field object
    elif isinstance(document, dict):
        rows = _list(_unwrap_list(document), "fields")
    else:
        rows = _list(document, "fields")
    return tuple(_case_field(row, f"fields[{index}]") for index, row in enumerate(rows))


def parse_user_page(document: Any) -> UserPage:
    """Parse a GET /users response."""
    root = _object(document, "response")
    embedded = _object(root.get("_embedded"), "_embedded")
    rows = _list(embedded.get("users"), "_embedded.users")
    return UserPage(
        total=_count(root, "total"),
        page=_count(root, "page", minimum=1),
        per_page=_count(root, "per_page", minimum=1),
        users=tuple(_user(row, f"_embedded.users[{index}]") for index, row in enumerate(rows)),
    )


def parse_me(document: Any) -> Me:
    """Parse GET /users/me (OpenID userinfo: `sub` required, `id` optional)."""
    data = _object(document, "me")
    sub = _text(data, "sub", "me")
    user_id = _text(data, "id", "me") or sub
    if not user_id:
        raise BadResponse("Talkdesk did not say who you are (me.id and me.sub are both missing).")
    return Me(id=user_id, name=_text(data, "name", "me"), email=_text(data, "email", "me"), sub=sub)


def parse_token_response(document: Any, *, now: datetime) -> TokenSet:
    """Parse a token endpoint response; `now` is when the request was sent (expiry base)."""
    data = _object(document, "token response")
    token_type = _text(data, "token_type", "token response")
    if token_type and token_type.lower() != "bearer":
        raise BadResponse("Talkdesk issued a token of an unsupported type (token_type).")
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)  # some servers send a numeric string; the meaning is clear
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 0:
        raise BadResponse("Talkdesk sent a token without a usable lifetime (expires_in).")
    access_token = _text(data, "access_token", "token response", required=True)
    if not access_token:
        raise BadResponse("Talkdesk sent an empty access token (access_token).")
    return TokenSet(
        access_token=access_token,
        refresh_token=_text(data, "refresh_token", "token response") or None,
        expires_at=now.astimezone(UTC) + timedelta(seconds=expires_in),
        scopes=tuple(_text(data, "scope", "token response").split()),
        id_token=_text(data, "id_token", "token response") or None,
    )


# --- pieces ----------------------------------------------------------------------------------


def _bad(where: str, expected: str) -> BadResponse:
    return BadResponse(
        f"Talkdesk sent a response Casebook could not read ({where}: expected {expected})."
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "an object")
    return value


def _list(value: Any, where: str, *, default: list[Any] | None = None) -> list[Any]:
    if value is None and default is not None:
        return default
    if not isinstance(value, list):
        raise _bad(where, "a list")
    return value


def _count(data: dict[str, Any], key: str, *, minimum: int = 0) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(key, f"a whole number of at least {minimum}")
    return value


def _text(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise _bad(f"{where}.{key}", "a value")
        return ""
    if not isinstance(value, str):
        raise _bad(f"{where}.{key}", "text")
    return value


def _identifier(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    # Ids are documented as strings; a bare number means the same id, so it is accepted.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{key}", "an id")
    return value


def _flag(data: dict[str, Any], key: str, where: str, *, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(f"{where}.{key}", "true or false")
    return value


def _moment(
    data: dict[str, Any], keys: tuple[str, ...], where: str, *, required: bool
) -> datetime | None:
    """A date-time under the first of `keys` present; several spellings are documented."""
    key = next((key for key in keys if data.get(key) is not None), keys[0])
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise _bad(f"{where}.{key}", "a date-time")
        return None
    if not isinstance(value, str):
        raise _bad(f"{where}.{key}", "a date-time")
    try:
        # fromisoformat (3.11+) reads "Z", a space separator, any number of fractional digits
        # and offsets: every format in talkdesk-api.md §2.3 and §3.
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad(f"{where}.{key}", "a date-time") from None
    # The OpenAPI example "2022-09-01 00:00:00.000" has no zone; Talkdesk's clock is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _embedded_json(value: Any, where: str) -> Any:
    """Decode a value documented both as an object and as that object serialised to a string."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(where, "JSON") from None
    return value


def _requester_integration(value: Any, where: str) -> RequesterIntegration | None:
    decoded = _embedded_json(value, where)
    if decoded is None:
        return None
    data = _object(decoded, where)
    return RequesterIntegration(
        integration_id=_loose_text(data.get("integration_id")),
        external_id=_loose_text(data.get("external_id")),
        external_url=_loose_text(data.get("external_url")),
        contact_type=_loose_text(data.get("contact_type")),
        external_sync_state=_loose_text(data.get("external_sync_state")),
    )


def _loose_text(value: Any) -> str:
    # Integration metadata is only displayed; an odd type there should not hide the case.
    return "" if value is None else str(value)


def _custom_fields(value: Any, where: str) -> tuple[CustomFieldValue, ...]:
    decoded = _embedded_json(value, where)
    if decoded is None:
        return ()
    fields = _object(decoded, where)
    # Every case carries these, so the error labels are built only when something is wrong.
    parsed = []
    for key, entry in fields.items():
        if not isinstance(entry, dict):
            raise _bad(f"{where}.{key}", "an object")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise _bad(f"{where}.{key}.name", "text")
        parsed.append(
            CustomFieldValue(
                key=key,
                label=_json_value(entry.get("label"), where, key, "label"),
                name=name or "",
                value=_json_value(entry.get("value"), where, key, "value"),
            )
        )
    return tuple(parsed)


_PLAIN = (type(None), bool, int, float, str)


def _json_value(value: Any, *where: str) -> JsonValue:
    if type(value) in _PLAIN:
        return value  # type: ignore[no-any-return]
    if isinstance(value, list) and all(type(item) in _PLAIN for item in value):
        return tuple(value)
    if isinstance(value, bool | int | float | str):  # subclasses of the plain types
        return value
    raise _bad(".".join(where), "a plain value or a list of plain values")


def _note(document: Any, where: str) -> Note:
    data = _object(document, where)
    return Note(
        id=_identifier(data, "id", where),
        title=_text(data, "notes_title", where) or _text(data, "note_title", where),
        body=_text(data, "notes_body", where) or _text(data, "note_body", where),
        public=_flag(data, "public", where, default=True),
    )


def _unwrap_list(document: dict[str, Any]) -> Any:
    for key in ("data", "fields", "items"):
        if key in document:
            return document[key]
    embedded = document.get("_embedded")
    if isinstance(embedded, dict):
        return _unwrap_list(embedded)
    return None


def _field_kind(key: str) -> str:
    stem = _TRAILING_NUMBER.sub("", key)
    stem = _KIND_ALIASES.get(stem, stem)
    return stem if stem in FIELD_KINDS else "other"


def _case_field(document: Any, where: str) -> CaseField:
    data = _object(document, where)
    key = _text(data, "key", where, required=True)
    return CaseField(
        id=_identifier(data, "id", where),
        key=key,
        name=_text(data, "name", where) or key,
        type_code=_text(data, "type", where),
        kind=_field_kind(key),
        options=tuple(_options(data.get("dict_list"), f"{where}.dict_list", parent_key="")),
        required=_flag(data, "required", where, default=False),
        active=_flag(data, "active", where, default=True),
        description=_text(data, "description", where),
        create_at=_moment(data, ("create_at", "created_at"), where, required=False),
        update_at=_moment(data, ("update_at", "updated_at"), where, required=False),
    )


def _options(value: Any, where: str, *, parent_key: str) -> Iterator[FieldOption]:
    # The OpenAPI example has `children: ""` where a list is meant; treat it as no children.
    if value is None or value == "":
        return
    for index, item in enumerate(_list(value, where)):
        item_where = f"{where}[{index}]"
        data = _object(item, item_where)
        key = _identifier(data, "key", item_where)
        text = (
            _text(data, "value", item_where)
            or _text(data, "label", item_where)
            or _text(data, "lable", item_where)  # sic: Talkdesk's fields sample
            or key
        )
        yield FieldOption(key=key, value=text, parent_key=parent_key)
        yield from _options(data.get("children"), f"{item_where}.children", parent_key=key)


def _user(document: Any, where: str) -> User:
    data = _object(document, where)
    return User(
        id=_identifier(data, "id", where),
        name=_text(data, "name", where),
        email=_text(data, "email", where),
        active=_flag(data, "active", where, default=True),
    )
