"""One exception family for everything that can go wrong talking to Talkdesk.

Every message is written for the person using the dashboard (a support manager), and none ever
contains a token, the client secret or a raw response body: upstream text is reduced to short,
named pieces (error codes, field names) before it reaches a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# When a 429 carries no Retry-After, tell the person to wait this long.
DEFAULT_RETRY_AFTER = 5

# Upstream identifiers end up in messages and logs only when they look like identifiers.
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_REQUEST_ID_HEADERS = ("x-request-id", "x-correlation-id", "x-amzn-requestid", "x-b3-traceid")
_FIELD_TEXT_LIMIT = 160


class TalkdeskError(Exception):
    """Base of every Talkdesk failure. `message` is safe to show to the user as it is."""

    default_message = "Something went wrong talking to Talkdesk. Try again in a moment."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.request_id = request_id
        super().__init__(self.message)


class InvalidParameters(TalkdeskError):
    """Talkdesk rejected the request's parameters (400); field_errors holds (name, problem)."""

    default_message = "Talkdesk did not accept these filters."

    def __init__(
        self,
        message: str | None = None,
        *,
        field_errors: tuple[tuple[str, str], ...] = (),
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.field_errors = field_errors
        if message is None and field_errors:
            details = "; ".join(f"{name}: {problem}" for name, problem in field_errors)
            message = f"{self.default_message} {details}"
        super().__init__(message, status=status, code=code, request_id=request_id)


class Unauthorized(TalkdeskError):
    """Talkdesk did not accept the credentials (an access token, or the OAuth client)."""

    default_message = (
        "Talkdesk did not accept your sign-in. Reconnect Talkdesk if this keeps happening."
    )


class ReconnectRequired(Unauthorized):
    """The refresh token is gone or rejected (invalid_grant): only a new authorization helps."""

    default_message = (
        "Your Talkdesk connection has expired or was revoked. Reconnect Talkdesk to continue."
    )


class Forbidden(TalkdeskError):
    """The token lacks a scope or permission; missing_scope names the scope the call needs."""

    def __init__(
        self,
        message: str | None = None,
        *,
        missing_scope: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.missing_scope = missing_scope
        if message is None:
            message = (
                f"Your Talkdesk connection lacks the permission “{missing_scope}”. Ask a "
                "Talkdesk administrator to grant it to Casebook, then reconnect Talkdesk."
                if missing_scope
                else "Talkdesk refused access to this information for your account."
            )
        super().__init__(message, status=status, code=code, request_id=request_id)


class NotFound(TalkdeskError):
    default_message = "Talkdesk has no record of that (it may have been deleted)."


class RateLimited(TalkdeskError):
    """Talkdesk asked us to slow down; retry_after is the wait in whole seconds."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = DEFAULT_RETRY_AFTER,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        if message is None:
            message = f"Talkdesk is receiving too many requests. Retry in {retry_after} s."
        super().__init__(message, status=status, code=code, request_id=request_id)


class UpstreamError(TalkdeskError):
    """Talkdesk failed (5xx), refused the connection, or answered in an unusable way."""

    default_message = "Talkdesk is having trouble right now. Try again in a moment."


class UpstreamTimeout(TalkdeskError):
    default_message = "Talkdesk did not answer in time. Try again in a moment."


class BadResponse(TalkdeskError):
    """A response Casebook cannot read (malformed JSON, an unexpected shape, a redirect)."""

    default_message = "Talkdesk sent a response Casebook could not read. Try again in a moment."


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    remaining = (moment - (now or datetime.now(UTC))).total_seconds()
    # Round up: retrying a fraction of a second early would only be refused again.
    return max(0, int(-(-remaining // 1)))


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    required_scope: str | None,
    token_endpoint: bool = False,
) -> TalkdeskError:
    """The one status → exception ladder, for the API and (token_endpoint=True) for OAuth.

    `body` is read only for short structured pieces (an error code, validation field names);
    it never becomes part of a message as a whole.
    """
    document = _json_object(body)
    common: dict[str, Any] = {
        "status": status,
        "code": _safe_token(document.get("code") or document.get("error")),
        "request_id": _request_id(headers),
    }
    retry_after = parse_retry_after(_header(headers, "retry-after"))

    if status == 429:
        wait = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
        return RateLimited(retry_after=wait, **common)
    if status == 503 and retry_after is not None:
        return RateLimited(
            f"Talkdesk is temporarily unavailable. Retry in {retry_after} s.",
            retry_after=retry_after,
            **common,
        )
    if 300 <= status < 400:
        return BadResponse(
            "Talkdesk answered with a redirect, which Casebook does not follow.", **common
        )
    if token_endpoint and 400 <= status < 500:
        return _token_error(status, _safe_token(document.get("error")), common)
    if status == 400 or status == 422:
        return InvalidParameters(field_errors=_field_errors(document), **common)
    if status == 401:
        return Unauthorized(**common)
    if status == 403:
        return Forbidden(missing_scope=required_scope, **common)
    if status == 404:
        return NotFound(**common)
    if status in {408, 504}:
        return UpstreamTimeout(**common)
    if 500 <= status < 600:
        return UpstreamError(
            f"Talkdesk is having trouble right now (HTTP {status}). Try again in a moment.",
            **common,
        )
    return UpstreamError(f"Talkdesk refused the request (HTTP {status}).", **common)


def _token_error(status: int, error: str | None, common: dict[str, Any]) -> TalkdeskError:
    # error_description is left out on purpose: OAuth servers sometimes quote the rejected
    # grant (the refresh token or code) in it.
    if error == "invalid_grant":
        return ReconnectRequired(**common)
    if status == 401 or error in {"invalid_client", "unauthorized_client"}:
        return Unauthorized(
            "Talkdesk rejected Casebook's client credentials. An administrator should check "
            "TALKDESK_CLIENT_ID and TALKDESK_CLIENT_SECRET.",
            **common,
        )
    if error == "invalid_scope":
        return Forbidden(
            "Talkdesk refused the permissions Casebook asks for. An administrator should check "
            "TALKDESK_SCOPES against the scopes of the Talkdesk OAuth client.",
            **common,
        )
    return UpstreamError(
        f"Talkdesk's sign-in service refused the request ({error or f'HTTP {status}'}).",
        **common,
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _field_errors(document: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    fields = document.get("fields")
    if not isinstance(fields, list):
        return ()
    errors = []
    for item in fields:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            problem = item.get("description")
            text = problem if isinstance(problem, str) and problem else "is not valid"
            errors.append((item["name"][:64], _shorten(text)))
    return tuple(errors)


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _FIELD_TEXT_LIMIT else flat[: _FIELD_TEXT_LIMIT - 1] + "…"


def _safe_token(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _SAFE_TOKEN.fullmatch(value) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Plain dicts are not case-insensitive the way requests' headers are.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = _safe_token(_header(headers, name))
        if value:
            return value
    return None
