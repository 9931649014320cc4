"""The sandbox's test controls: the request log, faults, latency, error rate, keep-alive."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from dashboard.sandbox.server import Sandbox, start

CASES = "/cm/core/va/cases"


def get(sandbox: Sandbox, http: requests.Session, path: str, token: str) -> requests.Response:
    return http.get(f"{sandbox.base_url}{path}", headers={"Authorization": f"Bearer {token}"})


def test_the_request_log_shows_what_the_sandbox_saw(
    sandbox_requests: Sandbox, sandbox_http: requests.Session
) -> None:
    sandbox = sandbox_requests
    agent = sandbox.data.agents[3]
    token = sandbox.issue_tokens(user_id=agent.id)["access_token"]
    raw = "status=%5B%22OPEN%22%5D&requester_phone=%2B351+9&title=a%20b&per_page=3"
    sandbox_http.get(
        f"{sandbox.base_url}{CASES}?{raw}",
        headers={"Authorization": f"Bearer {token}", "X-Trace": "t-1"},
    )
    sandbox_http.get(f"{sandbox.base_url}/users/me")
    first, second = sandbox.requests
    assert (first.method, first.path, first.status) == ("GET", CASES, 200)
    assert first.raw_query == raw
    # parse_qsl decoding: %2B is "+", a raw "+" is a space.
    assert first.query == [
        ("status", '["OPEN"]'),
        ("requester_phone", "+351 9"),
        ("title", "a b"),
        ("per_page", "3"),
    ]
    assert first.headers["x-trace"] == "t-1"
    assert first.headers["authorization"] == f"Bearer {token}"
    assert first.token_user_id == agent.id
    assert (second.path, second.status, second.token_user_id) == ("/users/me", 401, None)


def test_the_request_log_records_token_forms(
    sandbox_requests: Sandbox, sandbox_http: requests.Session
) -> None:
    sandbox_http.post(
        f"{sandbox_requests.base_url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "r-1"},
    )
    (recorded,) = sandbox_requests.requests
    assert recorded.form == {"grant_type": "refresh_token", "refresh_token": "r-1"}
    assert recorded.status == 401


def test_clearing_the_log_keeps_the_same_list(sandbox: Sandbox) -> None:
    log = sandbox.requests
    sandbox.clear_requests()
    assert sandbox.requests is log and log == []


def test_a_500_fault_answers_the_documented_system_error(
    sandbox_requests: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox_requests.fail_next(2, "500")
    token = sandbox_tokens["access_token"]
    statuses = [get(sandbox_requests, sandbox_http, CASES, token) for _ in range(3)]
    assert [response.status_code for response in statuses] == [500, 500, 200]
    assert statuses[0].json() == {"code": "1520000", "message": "System error."}
    assert [recorded.status for recorded in sandbox_requests.requests] == [500, 500, 200]


def test_a_502_fault_is_an_html_page(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.fail_next(1, "502")
    response = get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"])
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503)])
def test_rate_limit_and_unavailable_faults_carry_retry_after(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    kind: str,
    status: int,
) -> None:
    sandbox.fail_next(1, kind, retry_after=7)
    response = get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"])
    assert (response.status_code, response.headers["Retry-After"]) == (status, "7")
    if kind == "429":
        assert response.json() == {"code": "0012001", "message": "API rate limit exceeded"}


def test_a_malformed_fault_is_a_200_whose_json_does_not_parse(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.fail_next(1, "malformed")
    response = get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_a_delay_fault_answers_normally_after_the_delay(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.fail_next(1, "delay", delay=0.3)
    started = time.perf_counter()
    response = get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"])
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_faults_only_hit_paths_under_their_prefix(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    token = sandbox_tokens["access_token"]
    sandbox.fail_next(1, "500", path_prefix="/cm/meta/")
    assert get(sandbox, sandbox_http, CASES, token).status_code == 200
    assert get(sandbox, sandbox_http, "/cm/meta/va/fields", token).status_code == 500
    assert get(sandbox, sandbox_http, "/cm/meta/va/fields", token).status_code == 200


def test_faults_also_reach_the_token_endpoint(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    sandbox.fail_next(1, "503", path_prefix="/oauth/token")
    response = sandbox_http.post(f"{sandbox.base_url}/oauth/token", data={})
    assert response.status_code == 503


def test_unknown_fault_kinds_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.fail_next(1, "404")


def test_reset_drops_pending_faults_and_restores_latency(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.fail_next(5, "500")
    sandbox.latency_ms = 500
    sandbox.error_rate = 1.0
    sandbox.reset()
    assert (sandbox.latency_ms, sandbox.error_rate) == (0, 0.0)
    assert get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"]).status_code == 200


def test_latency_delays_api_responses_but_not_talkdesk_id(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.latency_ms = 200
    started = time.perf_counter()
    get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"])
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    sandbox_http.post(f"{sandbox.base_url}/oauth/token", data={})
    assert time.perf_counter() - started < 0.2


def test_an_error_rate_of_one_fails_every_api_request_with_a_5xx(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    sandbox.error_rate = 1.0
    statuses = {
        get(sandbox, sandbox_http, CASES, sandbox_tokens["access_token"]).status_code
        for _ in range(30)
    }
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    token_endpoint = sandbox_http.post(f"{sandbox.base_url}/oauth/token", data={})
    assert token_endpoint.status_code == 401


def test_a_random_error_rate_is_deterministic_for_a_seed() -> None:
    def statuses() -> list[int]:
        with start(port=0, cases=20, error_rate=0.5, seed=3) as sandbox:
            token = sandbox.issue_tokens()["access_token"]
            return [
                sandbox.app.handle("GET", CASES, {"authorization": f"Bearer {token}"}, b"").status
                for _ in range(20)
            ]

    first = statuses()
    assert first == statuses()
    assert 200 in first and set(first) - {200}


def test_connections_are_kept_alive_across_requests(
    sandbox: Sandbox, sandbox_tokens: dict[str, Any]
) -> None:
    address = urlsplit(sandbox.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {sandbox_tokens['access_token']}"}
        for _ in range(3):
            connection.request("GET", f"{CASES}?per_page=2", headers=headers)
            response = connection.getresponse()
            assert response.status == 200 and response.version == 11
            assert json.loads(response.read())["count"] == 2
            assert response.getheader("Connection") != "close"
        socket_after = connection.sock
        connection.request("GET", "/cm/meta/va/fields", headers=headers)
        connection.getresponse().read()
        assert connection.sock is socket_after
    finally:
        connection.close()


def test_slow_requests_do_not_hold_up_others(
    sandbox: Sandbox, sandbox_tokens: dict[str, Any]
) -> None:
    token = sandbox_tokens["access_token"]
    sandbox.fail_next(1, "delay", delay=0.6, path_prefix="/cm/meta/")
    slow = threading.Thread(
        target=requests.get,
        args=(f"{sandbox.base_url}/cm/meta/va/fields",),
        kwargs={"headers": {"Authorization": f"Bearer {token}"}, "timeout": 5},
    )
    slow.start()
    time.sleep(0.1)
    started = time.perf_counter()
    with requests.Session() as other:
        assert get(sandbox, other, CASES, token).status_code == 200
    assert time.perf_counter() - started < 0.3
    slow.join()
