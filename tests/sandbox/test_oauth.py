"""Talkdesk ID in the sandbox: consent, codes, PKCE, client auth, refresh rotation, scopes."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

from dashboard.sandbox.server import Sandbox

REDIRECT_URI = "http://127.0.0.1:8000/talkdesk/callback/"
ALL_SCOPES = "openid refresh_token cases-public:read case-fields-public:read users:read"


def basic(client_id: str, secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def approve(sandbox: Sandbox, http: requests.Session, **fields: str) -> requests.Response:
    """What the consent page's Approve button posts."""
    form = {
        "client_id": sandbox.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": ALL_SCOPES,
        "state": "st4te",
        "user_id": sandbox.data.agents[0].id,
        "decision": "approve",
    }
    form.update(fields)
    return http.post(f"{sandbox.base_url}/oauth/authorize", data=form, allow_redirects=False)


def authorization_code(sandbox: Sandbox, http: requests.Session, **fields: str) -> str:
    response = approve(sandbox, http, **fields)
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])["code"]


def token_request(
    sandbox: Sandbox,
    http: requests.Session,
    form: dict[str, str],
    headers: dict[str, str] | None = None,
) -> requests.Response:
    return http.post(
        f"{sandbox.base_url}/oauth/token",
        data=form,
        headers=basic(sandbox.client_id, sandbox.client_secret) if headers is None else headers,
    )


def exchange(
    sandbox: Sandbox, http: requests.Session, code: str, **extra: str
) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    form.update(extra)
    return token_request(sandbox, http, form)


def refresh(
    sandbox: Sandbox, http: requests.Session, token: str, **extra: str
) -> requests.Response:
    return token_request(
        sandbox, http, {"grant_type": "refresh_token", "refresh_token": token, **extra}
    )


def api_status(sandbox: Sandbox, http: requests.Session, path: str, token: str) -> int:
    response = http.get(f"{sandbox.base_url}{path}", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


# --- authorize ----------------------------------------------------------------------------


def test_the_consent_page_lists_active_agents_and_carries_the_request_through(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    params = {
        "client_id": sandbox.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid cases-public:read",
        "state": '"><script>alert(1)</script>',
        "nonce": "n-0S6",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    response = sandbox_http.get(f"{sandbox.base_url}/oauth/authorize", params=params)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    for agent in sandbox.data.agents:
        assert (html.escape(agent.name) in page) is agent.active
    assert "<script>alert(1)</script>" not in page
    for name, value in params.items():
        assert f'name="{name}" value="{html.escape(value)}"' in page
    assert 'value="approve"' in page and 'value="deny"' in page
    assert "http://" not in page.replace(html.escape(REDIRECT_URI), "")  # no external resources


def test_approving_redirects_with_a_code_and_the_state(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    response = approve(sandbox, sandbox_http, state="abc 123/=")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["state"] == "abc 123/=" and query["code"]


def test_denying_redirects_with_access_denied_and_the_state(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    response = approve(sandbox, sandbox_http, decision="deny")
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert (query["error"], query["state"]) == ("access_denied", "st4te")
    assert "code" not in query


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_client_gets_the_documented_error_and_no_redirect(
    sandbox: Sandbox, sandbox_http: requests.Session, method: str
) -> None:
    fields = {"client_id": "someone-else", "redirect_uri": REDIRECT_URI, "response_type": "code"}
    url = f"{sandbox.base_url}/oauth/authorize"
    response = (
        sandbox_http.get(url, params=fields, allow_redirects=False)
        if method == "GET"
        else approve(sandbox, sandbox_http, client_id="someone-else")
    )
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert response.json() == {
        "header": "OAuth Error",
        "error": "invalid_client",
        "error_description": "Bad client credentials",
    }


@pytest.mark.parametrize("redirect_uri", ["https://evil.example/cb", REDIRECT_URI + "x", ""])
def test_an_unregistered_redirect_uri_gets_invalid_grant_and_no_redirect(
    sandbox: Sandbox, sandbox_http: requests.Session, redirect_uri: str
) -> None:
    params = {"client_id": sandbox.client_id, "redirect_uri": redirect_uri, "response_type": "code"}
    for response in (
        sandbox_http.get(
            f"{sandbox.base_url}/oauth/authorize", params=params, allow_redirects=False
        ),
        approve(sandbox, sandbox_http, redirect_uri=redirect_uri),
    ):
        assert response.status_code == 400
        assert "Location" not in response.headers
        body = response.json()
        assert (body["header"], body["error"]) == ("OAuth Error", "invalid_grant")
        assert body["error_description"].startswith("Invalid redirect")


def test_a_registered_redirect_uri_can_be_added_at_run_time(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    sandbox.register_redirect_uri("http://testserver/elsewhere/")
    response = approve(sandbox, sandbox_http, redirect_uri="http://testserver/elsewhere/")
    assert response.headers["Location"].startswith("http://testserver/elsewhere/?code=")


def test_a_response_type_other_than_code_is_sent_back_as_an_error(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    params = {
        "client_id": sandbox.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "token",
        "state": "s",
    }
    response = sandbox_http.get(
        f"{sandbox.base_url}/oauth/authorize", params=params, allow_redirects=False
    )
    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {
        "error": "unsupported_response_type",
        "state": "s",
    }


# --- authorization_code grant -------------------------------------------------------------


def test_a_code_exchanges_for_the_documented_token_response_once(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    agent = sandbox.data.agents[4]
    code = authorization_code(sandbox, sandbox_http, user_id=agent.id, nonce="n0nce")
    response = exchange(sandbox, sandbox_http, code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "sid",
        "id_token",
    }
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 600, ALL_SCOPES)
    assert body["access_token"].count(".") == 2
    claims = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[1] + "=="))
    assert (claims["sub"], claims["nonce"], claims["aud"]) == (agent.id, "n0nce", "casebook-demo")
    assert api_status(sandbox, sandbox_http, "/users/me", body["access_token"]) == 200

    again = exchange(sandbox, sandbox_http, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_unknown_scopes_are_ignored_and_no_id_token_comes_without_openid(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    code = authorization_code(sandbox, sandbox_http, scope="cases-public:read admin:everything")
    body = exchange(sandbox, sandbox_http, code).json()
    assert body["scope"] == "cases-public:read"
    assert "id_token" not in body


def test_the_code_exchange_needs_the_redirect_uri_of_the_authorization(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    other = "http://localhost:8000/talkdesk/callback/"
    code = authorization_code(sandbox, sandbox_http)
    mismatch = exchange(sandbox, sandbox_http, code, redirect_uri=other)
    assert (mismatch.status_code, mismatch.json()["error"]) == (400, "invalid_grant")

    code = authorization_code(sandbox, sandbox_http)
    form = {"grant_type": "authorization_code", "code": code}
    missing = token_request(sandbox, sandbox_http, form)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_grant")


def test_pkce_s256_is_verified_when_a_challenge_was_sent(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    verifier = "v" * 20 + "-._~" + "0123456789ABCDEFGHIJ"
    challenge = {"code_challenge": s256(verifier), "code_challenge_method": "S256"}

    code = authorization_code(sandbox, sandbox_http, **challenge)
    assert exchange(sandbox, sandbox_http, code, code_verifier=verifier).status_code == 200

    for wrong in ({"code_verifier": verifier[::-1]}, {"code_verifier": "short"}, {}):
        code = authorization_code(sandbox, sandbox_http, **challenge)
        response = exchange(sandbox, sandbox_http, code, **wrong)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_pkce_plain_is_accepted_only_as_plain(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    verifier = "p" * 43
    code = authorization_code(
        sandbox, sandbox_http, code_challenge=verifier, code_challenge_method="plain"
    )
    assert exchange(sandbox, sandbox_http, code, code_verifier=verifier).status_code == 200

    code = authorization_code(
        sandbox, sandbox_http, code_challenge=verifier, code_challenge_method="S256"
    )
    assert exchange(sandbox, sandbox_http, code, code_verifier=verifier).status_code == 400


def test_a_code_expires_after_sixty_seconds(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    code = authorization_code(sandbox, sandbox_http)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61)):
        response = exchange(sandbox, sandbox_http, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


# --- client authentication ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        basic("casebook-demo", "wrong-secret"),
        basic("someone-else", "casebook-demo-secret"),
        {"Authorization": "Bearer casebook-demo-secret"},
    ],
    ids=["missing", "garbled", "wrong-secret", "wrong-client", "not-basic"],
)
def test_the_token_endpoint_requires_http_basic_client_credentials(
    sandbox: Sandbox, sandbox_http: requests.Session, headers: dict[str, str]
) -> None:
    code = authorization_code(sandbox, sandbox_http)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    response = token_request(sandbox, sandbox_http, form, headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "Bad client credentials",
    }


def test_client_credentials_in_the_body_are_refused(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    code = authorization_code(sandbox, sandbox_http)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
    }
    assert token_request(sandbox, sandbox_http, form, headers={}).status_code == 401
    assert token_request(sandbox, sandbox_http, form).status_code == 401


def test_a_missing_or_unknown_grant_type_is_a_bad_request(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    missing = token_request(sandbox, sandbox_http, {"code": "x"})
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "invalid_request", "error_description": "Missing grant type"},
    )
    unknown = token_request(sandbox, sandbox_http, {"grant_type": "password"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")


# --- refresh ------------------------------------------------------------------------------


def test_refresh_rotates_and_a_reused_refresh_token_is_rejected(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    first = exchange(sandbox, sandbox_http, authorization_code(sandbox, sandbox_http)).json()
    second = refresh(sandbox, sandbox_http, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert (rotated["sid"], rotated["scope"], rotated["expires_in"]) == (
        first["sid"],
        first["scope"],
        600,
    )
    assert "id_token" not in rotated

    reused = refresh(sandbox, sandbox_http, first["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert refresh(sandbox, sandbox_http, rotated["refresh_token"]).status_code == 200


def test_refresh_may_narrow_the_scope_but_never_widen_it(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    tokens = sandbox.issue_tokens(scopes=["cases-public:read", "users:read"])
    wider = refresh(
        sandbox, sandbox_http, tokens["refresh_token"], scope="cases-public:read openid"
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    # The refused request did not spend the token.
    narrower = refresh(sandbox, sandbox_http, tokens["refresh_token"], scope="users:read")
    assert narrower.status_code == 200
    access = narrower.json()["access_token"]
    assert narrower.json()["scope"] == "users:read"
    assert api_status(sandbox, sandbox_http, "/users", access) == 200
    assert api_status(sandbox, sandbox_http, "/cm/core/va/cases", access) == 403


def test_a_missing_refresh_token_is_the_documented_401(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    response = token_request(sandbox, sandbox_http, {"grant_type": "refresh_token"})
    assert response.status_code == 401
    assert response.json()["error_description"] == "No refresh token specified"


def test_revoked_refresh_tokens_answer_invalid_grant(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    tokens = sandbox.issue_tokens()
    sandbox.revoke_refresh_tokens()
    response = refresh(sandbox, sandbox_http, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


# --- bearer tokens on the API ---------------------------------------------------------------

API_PATHS = [
    "/cm/core/va/cases",
    "/cm/core/va/cases/1",
    "/cm/meta/va/fields",
    "/users",
    "/users/me",
]


@pytest.mark.parametrize("path", API_PATHS)
def test_a_missing_or_unknown_token_answers_401(
    sandbox: Sandbox, sandbox_http: requests.Session, path: str
) -> None:
    url = f"{sandbox.base_url}{path}"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer{sandbox.issue_tokens()['access_token']}"},
        basic(sandbox.client_id, sandbox.client_secret),
    ):
        response = sandbox_http.get(url, headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"code", "message"}
    if path.startswith("/cm/"):
        assert response.json() == {"code": "1520006", "message": "Unauthorized."}


def test_expired_tokens_answer_401(sandbox: Sandbox, sandbox_http: requests.Session) -> None:
    token = sandbox.issue_tokens()["access_token"]
    assert api_status(sandbox, sandbox_http, "/cm/core/va/cases", token) == 200
    sandbox.expire_access_tokens()
    assert api_status(sandbox, sandbox_http, "/cm/core/va/cases", token) == 401


def test_access_tokens_expire_after_their_ttl(
    sandbox: Sandbox, sandbox_http: requests.Session
) -> None:
    token = sandbox.issue_tokens(ttl=30)["access_token"]
    assert api_status(sandbox, sandbox_http, "/cm/core/va/cases", token) == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=31)):
        assert api_status(sandbox, sandbox_http, "/cm/core/va/cases", token) == 401


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/cm/core/va/cases", "cases-public:read"),
        ("/cm/core/va/cases/1", "cases-public:read"),
        ("/cm/meta/va/fields", "case-fields-public:read"),
        ("/users", "users:read"),
        ("/users/me", "openid"),
    ],
)
def test_an_endpoint_whose_scope_was_not_granted_answers_403(
    sandbox: Sandbox, sandbox_http: requests.Session, path: str, scope: str
) -> None:
    others = [s for s in ALL_SCOPES.split() if s != scope]
    without = sandbox.issue_tokens(scopes=others)["access_token"]
    with_it = sandbox.issue_tokens(scopes=[scope])["access_token"]
    assert api_status(sandbox, sandbox_http, path, without) == 403
    assert api_status(sandbox, sandbox_http, path, with_it) == 200
    if path.startswith("/cm/"):
        response = sandbox_http.get(
            f"{sandbox.base_url}{path}", headers={"Authorization": f"Bearer {without}"}
        )
        assert response.json() == {"code": "1520007", "message": "Forbidden."}


def test_issue_tokens_refuses_an_unknown_user(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="no agent"):
        sandbox.issue_tokens(user_id="nobody")


def test_issue_tokens_matches_the_token_endpoint(sandbox: Sandbox) -> None:
    tokens: dict[str, Any] = sandbox.issue_tokens(scopes=["openid", "users:read"], ttl=99)
    assert (tokens["scope"], tokens["expires_in"], tokens["token_type"]) == (
        "openid users:read",
        99,
        "Bearer",
    )
    assert {"refresh_token", "sid", "id_token"} <= set(tokens)
