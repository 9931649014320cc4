"""The sandbox's HTTP application: Talkdesk ID (OAuth) and the Case API, independent of sockets.

:class:`SandboxApp` turns one request (method, target, headers, body) into a :class:`Response`
and records it. ``server.py`` puts it behind a threaded HTTP server. It follows
``talkdesk-api.md`` and, where Talkdesk's documents disagree, accepts every documented variant;
it is strict everywhere else so that it catches a client that drifts from the contract.

Choices where the contract is silent:

- Query strings are decoded as a real server decodes them (``parse_qsl``): a raw ``+`` is a
  space. Talkdesk's curl sample sends ``requester_phone=+1888…`` unencoded; a real server would
  see `` 1888…``, and so does the sandbox, so a client that forgets ``%2B`` finds nothing
  instead of passing by luck.
- Unknown parameters are ignored (as a gateway does), empty ones count as absent, a scalar given
  twice is a 400. Unknown custom-field keys are a 400.
- Cases are ordered by ``create_at`` unless ``order_by`` says otherwise, ``DESC`` by default;
  ties are broken by id in the same direction, so paging is stable.
- Text filters are case-insensitive substrings, except ``agent_id`` and ``requester_id`` (exact).
  ``about`` values match whole values, case-insensitively. Date ranges are an inclusive
  ``[from, to]`` pair; an empty or null end is open; a bare date without a time is refused.
- Custom fields: drop-down and multi-select values are option keys (``"001"``), text matches
  whole values case-insensitively, numbers numerically, dates by day or by instant; a list of
  values means "any of". A case without the field never matches.
- ``_links`` carry only ``page`` and ``per_page``; ``next`` is left out on the last page and
  ``prev`` on the first.
- Users API errors use the Users API's own documented codes (``0040002``, ``0070010``…), the
  Case API ``15200xx``. Unknown paths answer the Case API's 404 body; a wrong method 405.
- Talkdesk ID: an unknown ``client_id`` at authorize is the OAS's 401 ``invalid_client``, an
  unregistered ``redirect_uri`` its 400 ``invalid_grant``; neither redirects. PKCE is optional
  and, when a challenge was sent, enforced (no method means ``plain``, RFC 7636 §4.3). The token
  exchange needs the authorize request's ``redirect_uri`` (RFC 6749 §4.1.3). Client
  authentication is HTTP Basic only; a ``client_secret`` or ``client_assertion`` in the body is
  a 401, a ``client_id`` in the body must match the Basic one. Every authorization-code grant
  returns a refresh token, with or without the ``refresh_token`` scope (as the OAS example
  does). Refresh tokens rotate; a missing one is the OAS's 401 ``No refresh token specified``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import random
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode, urlsplit

from dashboard.sandbox.data import (
    CASE_TYPES,
    PRIORITIES,
    STATUSES,
    Agent,
    Case,
    CustomField,
    SandboxData,
    detail_row,
)

JSON_TYPE: Final = "application/json; charset=utf-8"
HTML_TYPE: Final = "text/html; charset=utf-8"

#: Every scope the sandbox grants. Others are ignored at authorize, as Talkdesk ID drops scopes
#: a client is not entitled to.
KNOWN_SCOPES: Final = (
    "openid",
    "refresh_token",
    "cases-public:read",
    "case-fields-public:read",
    "users:read",
)
DEFAULT_REDIRECT_URIS: Final = (
    "http://127.0.0.1:8000/talkdesk/callback/",
    "http://localhost:8000/talkdesk/callback/",
)
AUTHORIZATION_CODE_TTL: Final = 60
FAULT_KINDS: Final = frozenset({"500", "502", "503", "429", "malformed", "delay"})
MAX_INT32: Final = 2_147_483_647

CASES_PATH: Final = "/cm/core/va/cases"
FIELDS_PATH: Final = "/cm/meta/va/fields"


# --- requests and responses ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, JSON_TYPE, headers)


def redirect(location: str) -> Response:
    return Response(302, b"", "text/plain; charset=utf-8", (("Location", location),))


@dataclass(frozen=True)
class RecordedRequest:
    """What the sandbox saw of one request, for tests to assert on.

    ``query`` is decoded like a real server decodes it (``parse_qsl``: ``+`` is a space);
    ``raw_query`` is exactly what came on the wire. ``token_user_id`` is the agent whose valid
    (known, unexpired) bearer token came with the request, whatever the answer was.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    raw_query: str
    headers: dict[str, str]
    form: dict[str, str]
    token_user_id: str | None
    status: int


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    raw_query: str
    query: list[tuple[str, str]]
    params: Mapping[str, list[str]]
    headers: Mapping[str, str]
    form: Mapping[str, str]
    form_pairs: list[tuple[str, str]]


def _group(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


# --- OAuth state ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessGrant:
    user_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True, slots=True)
class _RefreshGrant:
    user_id: str
    scopes: tuple[str, ...]
    sid: str


@dataclass(frozen=True, slots=True)
class _AuthorizationCode:
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _jwt_shaped(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes) -> str:
    def segment(part: Mapping[str, Any]) -> str:
        return _b64url(json.dumps(part, separators=(",", ":")).encode())

    return f"{segment(header)}.{segment(claims)}.{_b64url(signature)}"


class TokenAuthority:
    """Authorization codes, access tokens and refresh tokens, guarded by one lock.

    Expiry uses the wall clock (``time.time``) so a test that travels in time (time-machine)
    expires sandbox tokens exactly as it expires the client's notion of them.
    """

    def __init__(self, issuer: str, client_id: str, token_ttl: int) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._codes: dict[str, _AuthorizationCode] = {}
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, _RefreshGrant] = {}

    def create_code(self, grant: _AuthorizationCode) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = grant
        return code

    def redeem_code(self, code: str) -> _AuthorizationCode | None:
        """The code's grant, once: the code is spent on first presentation, valid or not."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at < time.time():
            return None
        return grant

    def authenticate(self, token: str) -> AccessGrant | None:
        with self._lock:
            grant = self._access.get(token)
        if grant is None or grant.expires_at <= time.time():
            return None
        return grant

    def issue(
        self,
        agent: Agent,
        scopes: Sequence[str],
        *,
        sid: str | None = None,
        nonce: str | None = None,
        ttl: int | None = None,
        with_id_token: bool = True,
    ) -> dict[str, Any]:
        """Mint tokens and answer as ``POST /oauth/token`` does (talkdesk-api.md §6.4)."""
        lifetime = self.token_ttl if ttl is None else ttl
        now = time.time()
        session_id = sid or secrets.token_hex(16)
        access_token = _jwt_shaped(
            {"alg": "ES256", "kid": "sandbox", "typ": "JWT"},
            {
                "iss": self.issuer,
                "sub": agent.id,
                "aud": self.client_id,
                "scp": list(scopes),
                "iat": int(now),
                "exp": int(now) + lifetime,
                "jti": secrets.token_hex(12),
            },
            secrets.token_bytes(64),
        )
        refresh_token = secrets.token_urlsafe(32)
        with self._lock:
            self._access[access_token] = AccessGrant(agent.id, frozenset(scopes), now + lifetime)
            self._refresh[refresh_token] = _RefreshGrant(agent.id, tuple(scopes), session_id)
        payload: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
            "refresh_token": refresh_token,
            "sid": session_id,
        }
        if with_id_token and "openid" in scopes:
            claims: dict[str, Any] = {
                "iss": self.issuer,
                "sub": agent.id,
                "aud": self.client_id,
                "iat": int(now),
                "exp": int(now) + lifetime,
                "sid": session_id,
                "name": agent.name,
                "email": agent.email,
            }
            if nonce is not None:
                claims["nonce"] = nonce
            # Unsigned on purpose: the contract promises a JWT, and nothing should verify it.
            payload["id_token"] = _jwt_shaped({"alg": "none", "typ": "JWT"}, claims, b"")
        return payload

    def peek_refresh_token(self, token: str) -> _RefreshGrant | None:
        with self._lock:
            return self._refresh.get(token)

    def spend_refresh_token(self, token: str) -> _RefreshGrant | None:
        """The grant behind a refresh token, once: rotation makes every token single-use."""
        with self._lock:
            return self._refresh.pop(token, None)

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = {
                token: AccessGrant(grant.user_id, grant.scopes, 0.0)
                for token, grant in self._access.items()
            }

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


# --- query validation ---------------------------------------------------------------------


class _FieldErrors:
    """Collects one problem per parameter, so a 400 names every bad parameter."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, name: str, description: str) -> None:
        self.fields.setdefault(name, description)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def body(self) -> dict[str, Any]:
        return {
            "code": "1520005",
            "message": "Bad Request.",
            "fields": [{"name": n, "description": d} for n, d in self.fields.items()],
        }


def _normalise_enum(value: str) -> str:
    """``On-hold``, ``on hold`` and ``ON_HOLD`` are one value (talkdesk-api.md §2.2)."""
    return re.sub(r"[\s_-]+", "_", value.strip()).upper()


_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?",
    re.IGNORECASE,
)


def parse_instant(text: str) -> float | None:
    """Epoch seconds of ``2022-11-01T01:43:29Z`` or ``2022-09-01 00:00:00.000`` (no zone: UTC).

    Offsets and fractional seconds are accepted; a bare date is not (the parameter is a
    date-time, and a bare upper bound would silently exclude that whole day).
    """
    text = text.strip()
    if not _DATE_TIME.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


CasePredicate = Callable[[Case], bool]


@dataclass(frozen=True, slots=True)
class CaseQuery:
    page: int
    per_page: int
    order_by: str
    descending: bool
    predicates: tuple[CasePredicate, ...]


#: Scalar text parameters: (name, max length, how the case is matched).
_TEXT_PARAMS: Final[tuple[tuple[str, int, Callable[[str], CasePredicate]], ...]] = (
    ("agent_id", 255, lambda v: lambda c: c.agent is not None and c.agent.id == v),
    ("agent_name", 125, lambda v: lambda c: c.agent is not None and v in c.agent.name_lower),
    ("agent_email", 255, lambda v: lambda c: c.agent is not None and v in c.agent.email_lower),
    ("requester_id", 255, lambda v: lambda c: c.requester.id == v),
    ("requester_name", 125, lambda v: lambda c: v in c.requester.name_lower),
    ("requester_email", 255, lambda v: lambda c: v in c.requester.email_lower),
    ("requester_phone", 20, lambda v: lambda c: c.requester.phone is not None
     and v in c.requester.phone),
    ("title", 255, lambda v: lambda c: v in c.title_lower),
    ("description", 1_000_000_000, lambda v: lambda c: v in c.description_lower),
)  # fmt: skip
_EXACT_TEXT_PARAMS: Final = frozenset({"agent_id", "requester_id"})

_ENUM_ARRAYS: Final[
    tuple[tuple[str, tuple[str, ...], Callable[[frozenset[str]], CasePredicate]], ...]
] = (
    ("status", STATUSES, lambda allowed: lambda c: c.status in allowed),
    ("priority", PRIORITIES, lambda allowed: lambda c: c.priority in allowed),
    ("type", CASE_TYPES, lambda allowed: lambda c: c.type in allowed),
)
_REQUESTER_TYPE_ALIASES: Final = {
    "AGENT": "AGENT",
    "AGENTS": "AGENT",
    "CONTACT": "CONTACT",
    "CONTACTS": "CONTACT",
}


class _CaseQueryParser:
    """Validates the 22 parameters of ``GET /cm/core/va/cases`` (talkdesk-api.md §2)."""

    def __init__(self, params: Mapping[str, list[str]], data: SandboxData) -> None:
        self.params = params
        self.data = data
        self.errors = _FieldErrors()
        self.predicates: list[CasePredicate] = []

    # -- value extraction --

    def scalar(self, name: str) -> str | None:
        """The parameter's single value; empty counts as absent (OAS allows length 0)."""
        values = self.params.get(name)
        if not values:
            return None
        if len(values) > 1:
            self.errors.add(name, "must be given at most once")
            return None
        return values[0] or None

    def array(self, name: str, max_length: int) -> list[Any] | None:
        """Items of an array parameter in any of its three documented encodings (§2.3).

        A value starting with ``[`` is a JSON array; otherwise one value is split on commas;
        repeated keys are collected.
        """
        values = [v for v in self.params.get(name, []) if v.strip()]
        if not values:
            return None
        if sum(len(v) for v in values) > max_length:
            self.errors.add(name, f"size must be between 0 and {max_length}")
            return None
        if len(values) > 1:
            return [v.strip() for v in values]
        value = values[0].strip()
        if value.startswith("["):
            try:
                decoded = json.loads(value)
            except ValueError:
                self.errors.add(name, "is not a valid JSON array")
                return None
            if not isinstance(decoded, list):
                self.errors.add(name, "is not a valid JSON array")
                return None
            return decoded
        return [item.strip() for item in value.split(",")]

    # -- parameters --

    def integer(self, name: str, default: int, maximum: int) -> int:
        value = self.scalar(name)
        if value is None:
            return default
        if not re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
            self.errors.add(name, "must be an integer")
            return default
        number = int(value)
        if number < 1:
            self.errors.add(name, "must be greater than or equal to 1")
        elif number > maximum:
            self.errors.add(name, f"must be less than or equal to {maximum}")
        return number

    def text_filters(self) -> None:
        for name, max_length, predicate in _TEXT_PARAMS:
            value = self.scalar(name)
            if value is None:
                continue
            if len(value) > max_length:
                self.errors.add(name, f"size must be between 0 and {max_length}")
                continue
            needle = value if name in _EXACT_TEXT_PARAMS else value.lower()
            self.predicates.append(predicate(needle))

    def requester_type(self) -> None:
        value = self.scalar("requester_type")
        if value is None:
            return
        kind = _REQUESTER_TYPE_ALIASES.get(_normalise_enum(value))
        if len(value) > 255 or kind is None:
            self.errors.add("requester_type", f"{value!r} is not one of AGENT, CONTACT")
            return
        self.predicates.append(lambda case: case.requester.type == kind)

    def ids(self) -> None:
        items = self.array("ids", MAX_INT32)
        if items is None:
            return
        wanted = set()
        for item in items:
            text = str(item).strip() if isinstance(item, str | int) else None
            if isinstance(item, bool) or not text or not text.isdigit():
                self.errors.add("ids", f"{item!r} is not a case id")
                return
            wanted.add(str(int(text)))
        self.predicates.append(lambda case: case.id in wanted)

    def enum_arrays(self) -> None:
        for name, allowed, predicate in _ENUM_ARRAYS:
            items = self.array(name, 255)
            if items is None:
                continue
            chosen = set()
            for item in items:
                if not isinstance(item, str) or len(item) > 31:
                    self.errors.add(name, f"{item!r} is not one of {', '.join(allowed)}")
                    break
                value = _normalise_enum(item)
                if value not in allowed:
                    self.errors.add(name, f"{item!r} is not one of {', '.join(allowed)}")
                    break
                chosen.add(value)
            else:
                self.predicates.append(predicate(frozenset(chosen)))

    def about(self) -> None:
        items = self.array("about", 255)
        if items is None:
            return
        chosen = set()
        for item in items:
            if not isinstance(item, str) or len(item) > 31:
                self.errors.add("about", "items must be strings of at most 31 characters")
                return
            chosen.add(item.strip().lower())
        self.predicates.append(lambda case: case.about is not None and case.about.lower() in chosen)

    def date_range(self, name: str) -> None:
        items = self.array(name, 1000)
        if items is None:
            return
        if len(items) != 2:
            self.errors.add(name, "expects a [from, to] pair of date-times")
            return
        bounds: list[float | None] = []
        for item in items:
            if item is None or item == "":
                bounds.append(None)
                continue
            instant = parse_instant(item) if isinstance(item, str) and len(item) <= 255 else None
            if instant is None:
                self.errors.add(
                    name,
                    f"{item!r} is not a date-time such as 2022-11-01T01:43:29Z "
                    "or 2022-09-01 00:00:00.000",
                )
                return
            bounds.append(instant)
        low, high = bounds
        if low is not None and high is not None and low > high:
            self.errors.add(name, "the range starts after it ends")
            return
        lo = float("-inf") if low is None else low
        hi = float("inf") if high is None else high
        if name == "create_at":
            self.predicates.append(lambda case: lo <= case.create_ts <= hi)
        else:
            self.predicates.append(lambda case: lo <= case.update_ts <= hi)

    def order(self) -> tuple[str, bool]:
        order_by = "create_at"
        value = self.scalar("order_by")
        if value is not None:
            normalised = _normalise_enum(value).lower()
            if len(value) > 255 or normalised not in {"create_at", "update_at"}:
                self.errors.add("order_by", f"{value!r} is not one of create_at, update_at")
            else:
                order_by = normalised
        descending = True
        value = self.scalar("sort")
        if value is not None:
            normalised = _normalise_enum(value)
            if len(value) > 255 or normalised not in {"ASC", "DESC"}:
                self.errors.add("sort", f"{value!r} is not one of ASC, DESC")
            else:
                descending = normalised == "DESC"
        return order_by, descending

    def custom_fields(self) -> None:
        values = [v for v in self.params.get("custom_fields", []) if v.strip()]
        conditions: list[tuple[str, Any]] = []
        for value in values:
            try:
                decoded = json.loads(value)
            except ValueError:
                self.errors.add("custom_fields", "must be a JSON array or object")
                return
            found = _custom_field_conditions(decoded)
            if found is None:
                self.errors.add(
                    "custom_fields",
                    'expects [{"label": key, "value": v}] or {key: {"value": v}}',
                )
                return
            conditions.extend(found)
        for key, given in conditions:
            definition = self.data.fields_by_key.get(key)
            if definition is None:
                self.errors.add("custom_fields", f"unknown custom field key {key!r}")
                return
            matcher = _custom_field_matcher(definition, given)
            if isinstance(matcher, str):
                self.errors.add("custom_fields", f"{key}: {matcher}")
                return
            self.predicates.append(matcher)

    def parse(self) -> CaseQuery | _FieldErrors:
        page = self.integer("page", 1, MAX_INT32)
        per_page = self.integer("per_page", 50, 500)
        # Most selective first: each predicate narrows the list the next one scans.
        self.ids()
        self.text_filters()
        self.requester_type()
        self.enum_arrays()
        self.about()
        self.date_range("create_at")
        self.date_range("update_at")
        self.custom_fields()
        order_by, descending = self.order()
        if self.errors:
            return self.errors
        return CaseQuery(page, per_page, order_by, descending, tuple(self.predicates))


def _custom_field_conditions(decoded: Any) -> list[tuple[str, Any]] | None:
    """``(key, value)`` pairs from either documented ``custom_fields`` shape (§2.4), or None.

    LIST-REF sends ``[{"label": key, "value": v}]``; the OAS sends ``{key: {"value": v, …}}``
    or a list of such objects.
    """
    items = decoded if isinstance(decoded, list) else [decoded]
    conditions: list[tuple[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        if _is_label_value_pair(item):
            conditions.append((item["label"], item["value"]))
            continue
        for key, spec in item.items():
            if not isinstance(spec, dict) or "value" not in spec:
                return None
            conditions.append((key, spec["value"]))
    return conditions


def _is_label_value_pair(item: Mapping[str, Any]) -> bool:
    # {"label": "checkbox1", "value": …} names the field in "label"; in the OAS shape "label"
    # is an option's text and sits one level down, under the field key.
    return "value" in item and isinstance(item.get("label"), str) and set(item) <= _PAIR_KEYS


_PAIR_KEYS: Final = frozenset({"label", "value", "name"})


def _custom_field_matcher(definition: CustomField, given: Any) -> CasePredicate | str:
    """A predicate for one custom-field condition, or why the value does not fit the field.

    A list of values means "any of". Drop-down and multi-select values are option keys (as the
    OAS example stores them: ``{"label": "Cupertino", "value": "001"}``).
    """
    key = definition.key
    options = {option.key for option in definition.options}
    candidates = given if isinstance(given, list) else [given]
    if not candidates:
        return "needs a value"
    kind = definition.kind
    if kind == "checkbox":
        flags = set()
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.lower() in {"true", "false"}:
                candidate = candidate.lower() == "true"
            if not isinstance(candidate, bool):
                return "expects true or false"
            flags.add(candidate)
        return lambda case: case.custom_fields.get(key) in flags
    if kind in {"dropdown", "multi_select"}:
        wanted = set()
        for candidate in candidates:
            if not isinstance(candidate, str) or candidate not in options:
                return f"{candidate!r} is not an option key ({', '.join(sorted(options))})"
            wanted.add(candidate)
        if kind == "dropdown":
            return lambda case: case.custom_fields.get(key) in wanted

        def selected_any(case: Case) -> bool:
            stored = case.custom_fields.get(key)
            return isinstance(stored, tuple) and not wanted.isdisjoint(stored)

        return selected_any
    if kind == "text":
        texts = set()
        for candidate in candidates:
            if isinstance(candidate, bool) or not isinstance(candidate, str | int | float):
                return "expects text"
            texts.add(str(candidate).lower())
        return lambda case: (
            key in case.custom_fields and str(case.custom_fields[key]).lower() in texts
        )
    if kind == "numeric":
        numbers = set()
        for candidate in candidates:
            try:
                if isinstance(candidate, bool):
                    raise ValueError
                numbers.add(float(candidate))
            except (TypeError, ValueError):
                return "expects a number"
        return lambda case: _as_number(case.custom_fields.get(key)) in numbers
    if kind == "date":
        days: set[str] = set()
        instants: set[float] = set()
        for candidate in candidates:
            if isinstance(candidate, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate):
                days.add(candidate)
                continue
            instant = parse_instant(candidate) if isinstance(candidate, str) else None
            if instant is None:
                return "expects a date (2024-05-01) or a date-time"
            instants.add(instant)

        def matches_date(case: Case) -> bool:
            stored = case.custom_fields.get(key)
            if not isinstance(stored, str):
                return False
            return stored[:10] in days or parse_instant(stored) in instants

        return matches_date
    return f"cannot filter on {kind} fields"


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- faults -------------------------------------------------------------------------------


@dataclass
class _Fault:
    kind: str
    remaining: int
    retry_after: int
    delay: float
    path_prefix: str


_BAD_GATEWAY_PAGE: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
_UNAVAILABLE_PAGE: Final = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


def _fault_response(kind: str, retry_after: int) -> Response:
    if kind == "500":
        return json_response(500, {"code": "1520000", "message": "System error."})
    if kind == "502":
        return Response(502, _BAD_GATEWAY_PAGE, HTML_TYPE)
    if kind == "503":
        return Response(503, _UNAVAILABLE_PAGE, HTML_TYPE, (("Retry-After", str(retry_after)),))
    return json_response(
        429,
        {"code": "0012001", "message": "API rate limit exceeded"},
        (("Retry-After", str(retry_after)),),
    )


def _malformed(response: Response) -> Response:
    """The same answer cut short: a 200 whose JSON body does not parse."""
    body = response.body[: len(response.body) // 2] if len(response.body) > 2 else b""
    body = body or b'{"total":'
    try:
        json.loads(body)
    except ValueError:
        pass
    else:
        body += b"{"
    return Response(200, body, JSON_TYPE)


# --- the application ----------------------------------------------------------------------

#: Error bodies per API family: the Users API documents its own codes (OAS ``usersGET``,
#: ``usersMeGET``), the Case API ``15200xx``.
_UNAUTHORIZED: Final = {
    "cases": {"code": "1520006", "message": "Unauthorized."},
    "users": {"code": "0040002", "message": "Unauthorized"},
    "me": {"code": "0070010", "message": "Unauthorized"},
}
_FORBIDDEN: Final = {
    "cases": {"code": "1520007", "message": "Forbidden."},
    "users": {"code": "0040003", "message": "Forbidden access"},
    "me": {"code": "0070011", "message": "Invalid scopes"},
}
_NOT_FOUND: Final = {"code": "1520008", "message": "Connection not found."}


def _consent_template() -> Template:
    text = resources.files("dashboard.sandbox").joinpath("consent.html").read_text("utf-8")
    return Template(text)


class SandboxApp:
    """Talkdesk ID and the Case API over one in-memory :class:`SandboxData`.

    Thread-safe: the data is immutable; tokens, faults, the error RNG and the request log each
    have a lock.
    """

    def __init__(
        self,
        data: SandboxData,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        token_ttl: int = 600,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        seed: int = 42,
        record_requests: bool = True,
    ) -> None:
        self.data = data
        self.record_requests = record_requests
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris: list[str] = list(dict.fromkeys(redirect_uris))
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.tokens = TokenAuthority(self.base_url, client_id, token_ttl)
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._faults_lock = threading.Lock()
        self._error_rng = random.Random(seed)
        self._error_rng_lock = threading.Lock()
        self._consent = _consent_template()

    # -- test controls --

    def clear_requests(self) -> None:
        with self._requests_lock:
            self.requests.clear()

    def register_redirect_uri(self, uri: str) -> None:
        if uri not in self.redirect_uris:
            self.redirect_uris.append(uri)

    def fail_next(
        self,
        count: int,
        kind: str,
        *,
        retry_after: int = 1,
        delay: float = 0.0,
        path_prefix: str = "/",
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._faults_lock:
            self._faults.append(_Fault(kind, count, retry_after, delay, path_prefix))

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> _Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _random_failure(self) -> Response | None:
        if self.error_rate <= 0:
            return None
        with self._error_rng_lock:
            if self._error_rng.random() >= self.error_rate:
                return None
            kind = self._error_rng.choice(("500", "502", "503"))
        return _fault_response(kind, 1)

    # -- entry point --

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request and record it. ``headers`` must have lower-case names."""
        split = urlsplit(target)
        path = unquote(split.path) or "/"
        query = parse_qsl(split.query, keep_blank_values=True, errors="replace")
        form_pairs: list[tuple[str, str]] = []
        if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            form_pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        request = _Request(
            method=method,
            path=path,
            raw_query=split.query,
            query=query,
            params=_group(query),
            headers=headers,
            form=dict(reversed(form_pairs)),
            form_pairs=form_pairs,
        )
        grant = self._bearer_grant(headers)
        response = self._answer(request, grant)
        if not self.record_requests:
            return response
        record = RecordedRequest(
            method=method,
            path=path,
            query=query,
            raw_query=split.query,
            headers=dict(headers),
            form=dict(request.form),
            token_user_id=grant.user_id if grant else None,
            status=response.status,
        )
        with self._requests_lock:
            self.requests.append(record)
        return response

    def _answer(self, request: _Request, grant: AccessGrant | None) -> Response:
        is_api = request.path.startswith(("/cm/", "/users"))
        fault = self._take_fault(request.path)
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        if is_api and self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        if fault is not None and fault.kind in {"500", "502", "503", "429"}:
            return _fault_response(fault.kind, fault.retry_after)
        failure = self._random_failure() if is_api else None
        if failure is not None:
            return failure
        try:
            response = self._route(request, grant)
        except Exception:
            # A bug must answer 500 like the real API would, not drop the connection.
            traceback.print_exc()
            response = json_response(500, {"code": "1520000", "message": "System error."})
        if fault is not None and fault.kind == "malformed":
            return _malformed(response)
        return response

    def _bearer_grant(self, headers: Mapping[str, str]) -> AccessGrant | None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.tokens.authenticate(token.strip())

    def _route(self, request: _Request, grant: AccessGrant | None) -> Response:
        method, path = request.method, request.path
        if path == "/oauth/authorize":
            if method == "GET":
                return self._authorize_page(request)
            if method == "POST":
                return self._authorize_decision(request)
            return self._method_not_allowed("GET, POST")
        if path == "/oauth/token":
            return self._token(request) if method == "POST" else self._method_not_allowed("POST")
        api_routes: tuple[tuple[str, str, str, Callable[..., Response]], ...] = (
            (CASES_PATH, "cases-public:read", "cases", self._list_cases),
            (FIELDS_PATH, "case-fields-public:read", "cases", self._fields),
            ("/users/me", "openid", "me", self._users_me),
            ("/users", "users:read", "users", self._list_users),
        )
        for route_path, scope, family, handler in api_routes:
            if path == route_path:
                return self._guarded(request, grant, scope, family, handler)
        if path.startswith(CASES_PATH + "/") and path.count("/") == 5:
            return self._guarded(request, grant, "cases-public:read", "cases", self._case_detail)
        if path.startswith("/users/") and path.count("/") == 2:
            return self._guarded(request, grant, "users:read", "users", self._user)
        return json_response(404, _NOT_FOUND)

    def _guarded(
        self,
        request: _Request,
        grant: AccessGrant | None,
        scope: str,
        family: str,
        handler: Callable[[_Request, AccessGrant], Response],
    ) -> Response:
        if request.method != "GET":
            return self._method_not_allowed("GET")
        if grant is None:
            return json_response(401, _UNAUTHORIZED[family])
        if scope not in grant.scopes:
            return json_response(403, _FORBIDDEN[family])
        return handler(request, grant)

    @staticmethod
    def _method_not_allowed(allowed: str) -> Response:
        return json_response(
            405, {"code": "0000405", "message": "Method Not Allowed"}, (("Allow", allowed),)
        )

    # -- Case API --

    def _list_cases(self, request: _Request, grant: AccessGrant) -> Response:
        parsed = _CaseQueryParser(request.params, self.data).parse()
        if isinstance(parsed, _FieldErrors):
            return json_response(400, parsed.body())
        return Response(200, self.case_page_body(parsed))

    def case_page_body(self, query: CaseQuery) -> bytes:
        """The list envelope for a validated query: counts, links and pre-serialised rows."""
        ordered = self.data.cases if query.order_by == "create_at" else self.data.cases_by_update
        start = (query.page - 1) * query.per_page
        page: Sequence[Case]
        if not query.predicates:
            total = len(ordered)
            if query.descending:
                stop = max(total - start, 0)
                page = ordered[max(stop - query.per_page, 0) : stop][::-1]
            else:
                page = ordered[start : start + query.per_page]
        else:
            first, *rest = query.predicates
            source = reversed(ordered) if query.descending else iter(ordered)
            matched = [case for case in source if first(case)]
            for predicate in rest:
                matched = [case for case in matched if predicate(case)]
            total = len(matched)
            page = matched[start : start + query.per_page]
        links = {"self": self._case_link(query.page, query.per_page)}
        if query.page > 1:
            links["prev"] = self._case_link(query.page - 1, query.per_page)
        if start + query.per_page < total:
            links["next"] = self._case_link(query.page + 1, query.per_page)
        head = json.dumps(
            {
                "total": total,
                "count": len(page),
                "page": query.page,
                "per_page": query.per_page,
                "_links": links,
            },
            separators=(",", ":"),
        ).encode()
        rows = b",".join(case.row_json for case in page)
        return b"".join((head[:-1], b',"_embedded":{"data":[', rows, b"]}}"))

    def _case_link(self, page: int, per_page: int) -> dict[str, str]:
        return {"href": f"{self.base_url}{CASES_PATH}?page={page}&per_page={per_page}"}

    def _case_detail(self, request: _Request, grant: AccessGrant) -> Response:
        case = self.data.case(request.path.rsplit("/", 1)[1])
        if case is None:
            return json_response(404, _NOT_FOUND)
        return json_response(200, detail_row(case, self.data.fields_by_key))

    def _fields(self, request: _Request, grant: AccessGrant) -> Response:
        # The CFIELDS page's shape (a top-level array, created_at/updated_at), not the OAS one.
        return json_response(200, [_field_json(cf) for cf in self.data.custom_fields])

    # -- Users API --

    def _user_json(self, agent: Agent) -> dict[str, Any]:
        return {
            "id": agent.id,
            "email": agent.email,
            "name": agent.name,
            "active": agent.active,
            "gender": agent.gender,
            "extension": agent.extension,
            "external_phone_number": agent.external_phone_number,
            "created_at": agent.created_at,
            "_links": {"self": {"href": f"{self.base_url}/users/{agent.id}"}},
        }

    def _users_me(self, request: _Request, grant: AccessGrant) -> Response:
        agent = self.data.agents_by_id[grant.user_id]
        return json_response(
            200,
            {
                "id": agent.id,
                "sub": agent.id,
                "name": agent.name,
                "email": agent.email,
                "_links": {"self": {"href": f"{self.base_url}/users/{agent.id}"}},
            },
        )

    def _user(self, request: _Request, grant: AccessGrant) -> Response:
        agent = self.data.agents_by_id.get(request.path.rsplit("/", 1)[1])
        if agent is None:
            return json_response(404, {"code": "0040000", "message": "User not found"})
        return json_response(200, self._user_json(agent))

    def _list_users(self, request: _Request, grant: AccessGrant) -> Response:
        params = request.params
        bad_types = {
            "code": "0040001",
            "message": "Bad request",
            "description": "Invalid query parameter types",
        }
        single = {name: values[-1] for name, values in params.items()}
        agents: Iterable[Agent] = self.data.agents
        if "active" in single:
            flag = single["active"].lower()
            if flag not in {"true", "false"}:
                return json_response(400, bad_types)
            agents = [agent for agent in agents if agent.active == (flag == "true")]
        if single.get("email"):
            email = single["email"].lower()
            agents = [agent for agent in agents if agent.email_lower == email]
        numbers = {}
        for name, default in (("page", 1), ("per_page", 20)):
            text = single.get(name, "") or str(default)
            if not text.isdigit():
                return json_response(400, bad_types)
            numbers[name] = int(text)
        page, per_page = numbers["page"], numbers["per_page"]
        if page < 1:
            return json_response(
                400,
                {
                    "code": "0040001",
                    "message": "Bad request",
                    "description": "Invalid pagination parameters.",
                },
            )
        if not 1 <= per_page <= 200:
            return json_response(400, {"code": "0040021", "message": "Pagination out of bounds"})
        matched = list(agents)
        total = len(matched)
        total_pages = max(1, -(-total // per_page))
        start = (page - 1) * per_page
        shown = matched[start : start + per_page]

        def link(number: int) -> dict[str, str]:
            return {"href": f"{self.base_url}/users?page={number}&per_page={per_page}"}

        links: dict[str, Any] = {"self": link(page)}
        if start + per_page < total:
            links["next"] = link(page + 1)
        links["first"] = link(1)
        links["last"] = link(total_pages)
        links["show"] = {"templated": True, "href": f"{self.base_url}/users/{{id}}"}
        links["index"] = {
            "templated": True,
            "href": f"{self.base_url}/users{{?active,email,page,per_page}}",
        }
        return json_response(
            200,
            {
                "count": len(shown),
                "total": total,
                "page": page,
                "per_page": per_page,
                "total_pages": total_pages,
                "_embedded": {"users": [self._user_json(agent) for agent in shown]},
                "_links": links,
            },
        )

    # -- Talkdesk ID --

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        return json_response(
            status, {"header": "OAuth Error", "error": error, "error_description": description}
        )

    def _check_client_and_redirect(self, params: Mapping[str, str]) -> Response | None:
        """The documented errors for a bad client or redirect URI; never a redirect."""
        if params.get("client_id") != self.client_id:
            return self._oauth_error(401, "invalid_client", "Bad client credentials")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri not in self.redirect_uris:
            shown = redirect_uri if redirect_uri else "null"
            return self._oauth_error(
                400,
                "invalid_grant",
                f"Invalid redirect: {shown} does not match one of the registered values: "
                f"[{', '.join(self.redirect_uris)}]",
            )
        return None

    @staticmethod
    def _redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
        pairs = {name: value for name, value in params.items() if value is not None}
        separator = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode(pairs)}")

    @staticmethod
    def granted_scopes(requested: str | None) -> tuple[str, ...]:
        """Requested scopes the sandbox knows, in request order; all of them when none asked."""
        if requested is None:
            return KNOWN_SCOPES
        return tuple(dict.fromkeys(s for s in requested.split() if s in KNOWN_SCOPES))

    def _authorize_page(self, request: _Request) -> Response:
        params = {name: values[0] for name, values in request.params.items()}
        problem = self._check_client_and_redirect(params)
        if problem is not None:
            return problem
        redirect_uri = params["redirect_uri"]
        state = params.get("state")
        if params.get("response_type") != "code":
            return self._redirect_with(
                redirect_uri, {"error": "unsupported_response_type", "state": state}
            )
        method = params.get("code_challenge_method")
        if method is not None and method not in {"S256", "plain"}:
            return self._redirect_with(
                redirect_uri,
                {
                    "error": "invalid_request",
                    "error_description": "code_challenge_method must be S256 or plain",
                    "state": state,
                },
            )
        hidden_names = (
            "client_id",
            "redirect_uri",
            "response_type",
            "state",
            "scope",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        )
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
            for name in hidden_names
            if name in params
        )
        active = [agent for agent in self.data.agents if agent.active]
        choices = "\n".join(
            '<label><input type="radio" name="user_id" value="{id}"{checked}> '
            "<strong>{name}</strong> <span>{email} · {group}</span></label>".format(
                id=html.escape(agent.id),
                checked=" checked" if index == 0 else "",
                name=html.escape(agent.name),
                email=html.escape(agent.email),
                group=html.escape(agent.group.name),
            )
            for index, agent in enumerate(active)
        )
        scopes = self.granted_scopes(params.get("scope"))
        scope_items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
        page = self._consent.substitute(
            client_id=html.escape(self.client_id),
            redirect_uri=html.escape(redirect_uri),
            scopes=scope_items or "<li>(no known scopes)</li>",
            hidden=hidden,
            choices=choices,
        )
        return Response(
            200,
            page.encode(),
            HTML_TYPE,
            (
                ("Cache-Control", "no-store"),
                ("X-Frame-Options", "DENY"),
                (
                    "Content-Security-Policy",
                    # Chrome applies form-action to the redirect that follows the POST too,
                    # so the (registered, already checked) redirect URI's origin is allowed.
                    "default-src 'none'; style-src 'unsafe-inline'; "
                    f"form-action 'self' {_origin(redirect_uri)}",
                ),
            ),
        )

    def _authorize_decision(self, request: _Request) -> Response:
        form = request.form
        problem = self._check_client_and_redirect(form)
        if problem is not None:
            return problem
        redirect_uri = form["redirect_uri"]
        state = form.get("state") or None
        decision = form.get("decision")
        if decision == "deny":
            return self._redirect_with(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user denied access",
                    "state": state,
                },
            )
        if decision != "approve":
            return self._oauth_error(400, "invalid_request", "decision must be approve or deny")
        agent = self.data.agents_by_id.get(form.get("user_id", ""))
        if agent is None or not agent.active:
            return self._oauth_error(400, "invalid_request", "Pick a user to sign in as")
        challenge = form.get("code_challenge") or None
        method = form.get("code_challenge_method") or None
        if challenge is not None and method is None:
            method = "plain"  # RFC 7636 §4.3: the default when a challenge comes alone.
        code = self.tokens.create_code(
            _AuthorizationCode(
                client_id=self.client_id,
                user_id=agent.id,
                scopes=self.granted_scopes(form.get("scope")),
                redirect_uri=redirect_uri,
                nonce=form.get("nonce") or None,
                code_challenge=challenge,
                code_challenge_method=method,
                expires_at=time.time() + AUTHORIZATION_CODE_TTL,
            )
        )
        return self._redirect_with(redirect_uri, {"code": code, "state": state})

    def _token_error(self, status: int, error: str, description: str) -> Response:
        return json_response(
            status,
            {"error": error, "error_description": description},
            (("Cache-Control", "no-store"),),
        )

    def _client_authenticated(self, request: _Request) -> bool:
        """HTTP Basic only (talkdesk-api.md §6.4); credentials in the body are refused."""
        form = request.form
        if "client_secret" in form or "client_assertion" in form:
            return False
        scheme, _, encoded = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except ValueError:
            return False
        client_id, colon, client_secret = decoded.partition(":")
        if not colon:
            return False
        # RFC 6749 §2.3.1 form-encodes both parts before Base64; most clients do not.
        candidates = {
            (client_id, client_secret),
            (unquote_plus(client_id), unquote_plus(client_secret)),
        }
        authenticated = any(
            cid == self.client_id and secrets.compare_digest(secret, self.client_secret)
            for cid, secret in candidates
        )
        if authenticated and "client_id" in form:
            return form["client_id"] == self.client_id
        return authenticated

    def _token(self, request: _Request) -> Response:
        if not self._client_authenticated(request):
            return self._token_error(401, "unauthorized", "Bad client credentials")
        form = request.form
        if len({name for name, _ in request.form_pairs}) != len(request.form_pairs):
            return self._token_error(400, "invalid_request", "Repeated parameters")
        grant_type = form.get("grant_type")
        if not grant_type:
            return self._token_error(400, "invalid_request", "Missing grant type")
        if grant_type == "authorization_code":
            return self._authorization_code_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        return self._token_error(400, "unsupported_grant_type", "Unsupported grant type")

    def _authorization_code_grant(self, form: Mapping[str, str]) -> Response:
        code = form.get("code")
        if not code:
            return self._token_error(400, "invalid_request", "Missing authorization code")
        grant = self.tokens.redeem_code(code)
        if grant is None or grant.client_id != self.client_id:
            return self._token_error(400, "invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._token_error(
                400, "invalid_grant", "Redirect URI does not match the authorization request"
            )
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not _PKCE_VERIFIER.fullmatch(verifier):
                return self._token_error(400, "invalid_grant", "Invalid PKCE code verifier")
            expected = _s256(verifier) if grant.code_challenge_method == "S256" else verifier
            if not secrets.compare_digest(expected, grant.code_challenge):
                return self._token_error(400, "invalid_grant", "PKCE verification failed")
        agent = self.data.agents_by_id[grant.user_id]
        payload = self.tokens.issue(agent, grant.scopes, nonce=grant.nonce)
        return json_response(200, payload, (("Cache-Control", "no-store"),))

    def _refresh_grant(self, form: Mapping[str, str]) -> Response:
        token = form.get("refresh_token")
        if not token:
            return self._token_error(401, "unauthorized", "No refresh token specified")
        grant = self.tokens.peek_refresh_token(token)
        if grant is None:
            return self._token_error(400, "invalid_grant", "Invalid refresh token")
        scopes = grant.scopes
        if form.get("scope"):
            requested = tuple(dict.fromkeys(form["scope"].split()))
            if not set(requested) <= set(grant.scopes):
                # Refused before spending: a bad request must not cost the client its token.
                return self._token_error(
                    400, "invalid_scope", "Requested scope exceeds the original grant"
                )
            scopes = requested
        # Two concurrent refreshes with one token: only the first to spend it succeeds.
        if self.tokens.spend_refresh_token(token) is None:
            return self._token_error(400, "invalid_grant", "Invalid refresh token")
        agent = self.data.agents_by_id[grant.user_id]
        payload = self.tokens.issue(agent, scopes, sid=grant.sid, with_id_token=False)
        return json_response(200, payload, (("Cache-Control", "no-store"),))


def _field_json(definition: CustomField) -> dict[str, Any]:
    return {
        "id": definition.id,
        "key": definition.key,
        "name": definition.name,
        "type": definition.type_code,
        "description": definition.description,
        "dict_list": [
            {"key": option.key, "value": option.value, "children": []}
            for option in definition.options
        ],
        "required": definition.required,
        "active": definition.active,
        "created_at": definition.created_at,
        "updated_at": definition.updated_at,
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
