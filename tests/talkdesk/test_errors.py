from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from dashboard.talkdesk import (
    BadResponse,
    Forbidden,
    InvalidParameters,
    NotFound,
    RateLimited,
    ReconnectRequired,
    TalkdeskError,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
    error_from_response,
)
from dashboard.talkdesk.errors import parse_retry_after

SECRET = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("status", "payload", "error_class", "message_part"),
    [
        (400, body(code="1520005", message="Bad Request."), InvalidParameters,
         "did not accept these filters"),
        (401, body(code="1520006", message="Unauthorized."), Unauthorized, "Reconnect Talkdesk"),
        (403, body(code="1520007", message="Forbidden."), Forbidden, "“cases-public:read”"),
        (404, body(code="1520008", message="Connection not found."), NotFound, "no record"),
        (408, b"", UpstreamTimeout, "did not answer in time"),
        (429, body(code="0012001", message="API rate limit exceeded"), RateLimited,
         "Retry in 5 s"),
        (500, body(code="1520000", message="System error."), UpstreamError, "HTTP 500"),
        (502, b"<html><body>Bad gateway</body></html>", UpstreamError, "HTTP 502"),
        (503, b"", UpstreamError, "HTTP 503"),
        (504, b"<html>Gateway Timeout</html>", UpstreamTimeout, "did not answer in time"),
        (302, b"", BadResponse, "redirect"),
        (405, b"", UpstreamError, "HTTP 405"),
    ],
)  # fmt: skip
def test_each_status_becomes_its_exception_with_a_readable_message(
    status: int, payload: bytes, error_class: type[TalkdeskError], message_part: str
) -> None:
    error = error_from_response(status, payload, {}, required_scope="cases-public:read")
    assert type(error) is error_class
    assert error.status == status
    assert message_part in error.message
    assert str(error) == error.message


def test_the_upstream_code_is_kept_for_support_but_the_body_never_reaches_the_message() -> None:
    payload = body(code="1520005", message=f"token {SECRET} rejected", description=SECRET)
    for status in (400, 401, 403, 404, 429, 500, 503):
        error = error_from_response(status, payload, {}, required_scope=None)
        assert error.code == "1520005"
        assert SECRET not in error.message
        assert "rejected" not in error.message


def test_a_bad_request_carries_the_field_errors_talkdesk_listed() -> None:
    payload = body(
        code="1520005",
        message="Bad Request.",
        fields=[
            {"name": "per_page", "description": "must be between 1 and 500"},
            {"name": "status", "description": ""},
            {"description": "no name, so ignored"},
            "junk",
        ],
    )
    error = error_from_response(400, payload, {}, required_scope="cases-public:read")
    assert isinstance(error, InvalidParameters)
    assert error.field_errors == (
        ("per_page", "must be between 1 and 500"),
        ("status", "is not valid"),
    )
    assert error.message == (
        "Talkdesk did not accept these filters. per_page: must be between 1 and 500; "
        "status: is not valid"
    )


def test_a_very_long_field_description_is_shortened() -> None:
    payload = body(fields=[{"name": "title", "description": "x" * 1000}])
    error = error_from_response(400, payload, {}, required_scope=None)
    assert isinstance(error, InvalidParameters)
    assert len(error.field_errors[0][1]) == 160


def test_forbidden_without_a_known_scope_still_reads_well() -> None:
    error = error_from_response(403, b"", {}, required_scope=None)
    assert isinstance(error, Forbidden)
    assert error.missing_scope is None
    assert error.message == "Talkdesk refused access to this information for your account."


def test_forbidden_names_the_scope_the_endpoint_needs() -> None:
    error = error_from_response(403, b"{}", {}, required_scope="users:read")
    assert isinstance(error, Forbidden)
    assert error.missing_scope == "users:read"
    assert "users:read" in error.message


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "1"}, 1),
        ({"retry-after": "3600"}, 3600),
        ({"Retry-After": " 0 "}, 0),
        ({"Retry-After": "soon"}, 5),
        ({}, 5),
    ],
)
def test_rate_limited_carries_the_wait_from_retry_after(
    headers: dict[str, str], retry_after: int
) -> None:
    error = error_from_response(429, b"", headers, required_scope=None)
    assert isinstance(error, RateLimited)
    assert error.retry_after == retry_after
    assert f"Retry in {retry_after} s" in error.message


def test_a_503_with_retry_after_is_a_rate_limit_too() -> None:
    error = error_from_response(503, b"", {"Retry-After": "120"}, required_scope=None)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 120
    assert error.message == "Talkdesk is temporarily unavailable. Retry in 120 s."


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0
    assert parse_retry_after("Wed, 99 Foo 2026", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("headers", "request_id"),
    [
        ({"X-Request-Id": "abc-123"}, "abc-123"),
        ({"x-correlation-id": "7f3e:1"}, "7f3e:1"),
        ({"X-Request-Id": "<script>alert(1)</script>"}, None),
        ({"X-Request-Id": "x" * 65}, None),
        ({}, None),
    ],
)
def test_a_request_id_header_is_kept_only_when_it_looks_like_an_id(
    headers: dict[str, str], request_id: str | None
) -> None:
    assert error_from_response(500, b"", headers, required_scope=None).request_id == request_id


def test_an_odd_error_code_is_dropped_rather_than_echoed() -> None:
    error = error_from_response(400, body(code="<b>1</b>"), {}, required_scope=None)
    assert error.code is None
    assert error_from_response(400, body(code=1520005), {}, required_scope=None).code == "1520005"


# --- the token endpoint --------------------------------------------------------------------------


def token_error(status: int, **fields: Any) -> TalkdeskError:
    return error_from_response(status, body(**fields), {}, required_scope=None, token_endpoint=True)


def test_a_rejected_grant_means_the_person_must_reconnect() -> None:
    error = token_error(400, error="invalid_grant", error_description=f"bad token {SECRET}")
    assert type(error) is ReconnectRequired
    assert isinstance(error, Unauthorized)
    assert "Reconnect Talkdesk" in error.message
    assert SECRET not in error.message
    assert error.code == "invalid_grant"


@pytest.mark.parametrize(
    "fields",
    [
        {"error": "invalid_client", "error_description": "Bad client credentials"},
        {"error": "unauthorized", "error_description": "No refresh token specified"},
        {},
    ],
)
def test_a_401_from_the_token_endpoint_blames_the_client_credentials(
    fields: dict[str, Any],
) -> None:
    error = token_error(401, **fields)
    assert type(error) is Unauthorized
    assert "client credentials" in error.message
    assert "TALKDESK_CLIENT_SECRET" in error.message


def test_other_token_endpoint_refusals_name_the_oauth_error() -> None:
    scope_error = token_error(400, error="invalid_scope")
    assert isinstance(scope_error, Forbidden)
    assert "TALKDESK_SCOPES" in scope_error.message
    request_error = token_error(400, error="invalid_request", error_description="Missing grant")
    assert type(request_error) is UpstreamError
    assert "(invalid_request)" in request_error.message
    assert "Missing grant" not in request_error.message


def test_token_endpoint_outages_follow_the_common_ladder() -> None:
    assert type(token_error(503)) is UpstreamError
    assert type(token_error(429)) is RateLimited
