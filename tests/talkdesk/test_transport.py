from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.talkdesk import (
    BadResponse,
    InvalidParameters,
    RateLimited,
    ReconnectRequired,
    Transport,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)

from .conftest import Reply, StubServer

TOKEN = "access-token-value-Zx9"


def get(transport: Transport, stub: StubServer, params: list[tuple[str, str]] | None = None):  # type: ignore[no-untyped-def]
    return transport.get_json(
        f"{stub.url}/cm/core/va/cases", params or [], TOKEN, required_scope="cases-public:read"
    )


def test_a_get_sends_the_bearer_token_and_asks_for_json(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(body={"ok": True}))
    assert get(transport, stub) == {"ok": True}
    (seen,) = stub.requests
    assert seen.method == "GET"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["User-Agent"] == "Casebook/0.1"


def test_plus_signs_and_spaces_are_percent_encoded_in_the_final_url(
    transport: Transport, stub: StubServer
) -> None:
    params = [
        ("requester_phone", "+15550100123"),
        ("title", "Refund, not received"),
        ("status", '["OPEN","ON_HOLD"]'),
    ]
    get(transport, stub, params)
    raw_query = urlsplit(stub.requests[0].target).query
    assert "requester_phone=%2B15550100123" in raw_query
    assert "title=Refund%2C%20not%20received" in raw_query
    assert "+" not in raw_query
    assert parse_qsl(raw_query) == params


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_any_parameter_value_arrives_exactly_as_sent(
    transport: Transport, stub: StubServer, value: str
) -> None:
    params = [("title", value), ("about", f'["{value}"]')]
    get(transport, stub, params)
    raw_query = urlsplit(stub.requests[-1].target).query
    assert parse_qsl(raw_query, keep_blank_values=True) == params
    assert raw_query.count("&") == 1  # an "&" inside a value is escaped, not a separator
    assert not {"+", " ", "#"} & set(raw_query)


def test_a_redirect_is_not_followed(
    transport: Transport, stub: StubServer, foreign: StubServer
) -> None:
    stub.reply(Reply(status=302, headers={"Location": f"{foreign.url}/steal"}, body=b""))
    with pytest.raises(BadResponse, match="redirect"):
        get(transport, stub)
    assert foreign.requests == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_failure_is_retried_once_and_can_succeed(
    transport: Transport, stub: StubServer, status: int
) -> None:
    stub.reply(Reply(status=status, body=b"<html>down</html>"), Reply(body={"ok": 1}))
    assert get(transport, stub) == {"ok": 1}
    assert len(stub.requests) == 2


def test_a_gateway_failure_twice_in_a_row_gives_up_after_one_retry(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(status=502, body=b"<html>down</html>"), Reply(status=502, body=b"x"))
    with pytest.raises(UpstreamError, match="HTTP 502") as caught:
        get(transport, stub)
    assert "down" not in caught.value.message
    assert len(stub.requests) == 2


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(500, UpstreamError), (400, InvalidParameters), (401, Unauthorized)],
)
def test_other_failures_are_not_retried(
    transport: Transport, stub: StubServer, status: int, error_class: type[Exception]
) -> None:
    stub.reply(Reply(status=status, body={"code": "1", "message": "no"}))
    with pytest.raises(error_class):
        get(transport, stub)
    assert len(stub.requests) == 1


def test_a_429_with_retry_after_1_waits_and_retries_once(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(status=429, headers={"Retry-After": "1"}), Reply(body={"ok": 1}))
    started = time.monotonic()
    assert get(transport, stub) == {"ok": 1}
    assert time.monotonic() - started >= 1.0
    assert len(stub.requests) == 2


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
@pytest.mark.parametrize("status", [429, 503])
def test_a_long_retry_after_is_a_rate_limit_error_at_once(
    transport: Transport, stub: StubServer, as_date: bool, status: int
) -> None:
    retry_after = formatdate(time.time() + 3600, usegmt=True) if as_date else "3600"
    stub.reply(Reply(status=status, headers={"Retry-After": retry_after}))
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        get(transport, stub)
    assert time.monotonic() - started < 3
    assert 3590 <= caught.value.retry_after <= 3600
    assert len(stub.requests) == 1


def test_a_stalled_answer_is_a_timeout_within_the_budget_and_not_retried(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(delay=2.0))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer in time"):
        get(transport, stub)
    assert time.monotonic() - started < transport.budget
    assert len(stub.requests) == 1


def test_a_body_trickling_in_is_cut_off_by_the_wall_clock_budget(stub: StubServer) -> None:
    # Each byte arrives well within the read timeout; only the budget can stop this.
    stub.reply(Reply(body=b"[" + b"1," * 40 + b"1]", drip=0.1))
    with Transport(read_timeout=1.0, budget=1.5) as transport:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            get(transport, stub)
        assert time.monotonic() - started < 1.5 + 1.0


def test_no_connection_is_retried_once_then_reported(transport: Transport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(UpstreamError, match="could not connect"):
        transport.get_json(f"http://127.0.0.1:{closed_port}/users", [], TOKEN, required_scope=None)


@pytest.mark.parametrize("payload", [b"<html>Sign in</html>", b"", b'{"truncated": '])
def test_a_successful_answer_that_is_not_json_is_a_bad_response(
    transport: Transport, stub: StubServer, payload: bytes
) -> None:
    stub.reply(Reply(body=payload, headers={"Content-Type": "text/html"}))
    with pytest.raises(BadResponse, match="not JSON"):
        get(transport, stub)


@pytest.mark.parametrize(
    "url", ["http://example.com/cm/core/va/cases", "file:///etc/passwd", "gopher://x/"]
)
def test_only_https_or_loopback_urls_are_ever_requested(transport: Transport, url: str) -> None:
    with pytest.raises(ValueError):
        transport.get_json(url, [], TOKEN, required_scope=None)


def test_connections_are_reused_between_calls_on_one_thread(
    transport: Transport, stub: StubServer
) -> None:
    get(transport, stub)
    get(transport, stub)
    assert len(transport._sessions) == 1


def test_each_thread_gets_its_own_session_and_close_closes_them_all(stub: StubServer) -> None:
    transport = Transport()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(get(transport, stub))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{}] * 4
    get(transport, stub)  # a new thread's session prunes those of finished threads
    assert len(transport._sessions) <= 2
    transport.close()
    assert transport._sessions == {}


def test_no_token_reaches_the_logs_even_at_debug(
    transport: Transport, stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.reply(Reply(status=503), Reply(status=401))
    with pytest.raises(Unauthorized):
        get(transport, stub)
    transport.post_token(
        f"{stub.url}/oauth/token", {"refresh_token": "rt-secret"}, "id", "client-secret-9"
    )
    assert "retrying" in caplog.text
    for needle in (TOKEN, "rt-secret", "client-secret-9"):
        assert needle not in caplog.text


# --- the token endpoint --------------------------------------------------------------------------


def test_a_token_request_is_a_form_post_with_http_basic_client_authentication(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(body={"access_token": "a", "expires_in": 599}))
    answer = transport.post_token(
        f"{stub.url}/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": "r+1 /="},
        "client-id",
        "client-secret",
    )
    assert answer == {"access_token": "a", "expires_in": 599}
    (seen,) = stub.requests
    assert seen.method == "POST"
    assert seen.target == "/oauth/token"
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert seen.headers["Authorization"] == f"Basic {expected}"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(seen.body.decode()) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "r+1 /="),
    ]


def test_a_token_request_is_never_retried(transport: Transport, stub: StubServer) -> None:
    stub.reply(Reply(status=503, headers={"Retry-After": "0"}), Reply(body={"never": "used"}))
    with pytest.raises(RateLimited):
        transport.post_token(f"{stub.url}/oauth/token", {}, "id", "secret")
    assert len(stub.requests) == 1


def test_a_rejected_refresh_token_means_reconnect(transport: Transport, stub: StubServer) -> None:
    stub.reply(Reply(status=400, body={"error": "invalid_grant", "error_description": "rt-x"}))
    with pytest.raises(ReconnectRequired) as caught:
        transport.post_token(f"{stub.url}/oauth/token", {}, "id", "secret")
    assert "rt-x" not in str(caught.value)


def test_a_stalled_token_endpoint_is_a_timeout(transport: Transport, stub: StubServer) -> None:
    stub.reply(Reply(delay=1.5))
    with pytest.raises(UpstreamTimeout):
        transport.post_token(f"{stub.url}/oauth/token", {}, "id", "secret")
