"""Connecting to Talkdesk, signing in with it, and keeping the tokens secret and fresh."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection as db_connection
from django.test import Client

from dashboard.connection import client_for
from dashboard.models import TalkdeskConnection
from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk import CaseQuery
from tests.conftest import connect, signed_in

pytestmark = pytest.mark.django_db


def approve(
    sandbox: Sandbox, authorize_url: str, *, agent_index: int = 0, decision: str = "approve"
) -> str:
    """Do what the person does on Talkdesk's consent page; return where Talkdesk sends them."""
    assert authorize_url.startswith(sandbox.base_url + "/oauth/authorize?")
    consent = requests.get(authorize_url, timeout=5)
    assert consent.status_code == 200
    form = {name: values[0] for name, values in parse_qs(urlsplit(authorize_url).query).items()}
    form |= {"user_id": sandbox.data.agents[agent_index].id, "decision": decision}
    answer = requests.post(
        sandbox.base_url + "/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302
    return answer.headers["Location"]


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/talkdesk/callback/"
    return f"{parts.path}?{parts.query}"


def token_requests(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == "/oauth/token"]


def test_connect_redirects_to_talkdesk_with_state_and_a_pkce_challenge(
    stranger_client: Client, sandbox: Sandbox
) -> None:
    response = stranger_client.get("/talkdesk/connect/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [sandbox.client_id]
    assert query["redirect_uri"] == ["http://localhost/talkdesk/callback/"]
    assert "cases-public:read" in query["scope"][0].split()
    assert len(query["state"][0]) >= 22  # at least 128 bits
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43


def test_the_round_trip_connects_and_stores_only_ciphertext(
    stranger: User, stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    sandbox = sandbox_requests
    location = approve(
        sandbox, stranger_client.get("/talkdesk/connect/")["Location"], agent_index=2
    )
    response = stranger_client.get(callback_path(location))

    assert response.status_code == 302
    assert response["Location"] == "/cases/"
    assert response["Referrer-Policy"] == "no-referrer"
    (token_call,) = token_requests(sandbox)
    assert token_call.headers["authorization"].startswith("Basic ")
    assert token_call.form["grant_type"] == "authorization_code"
    assert token_call.form["redirect_uri"] == "http://localhost/talkdesk/callback/"
    assert len(token_call.form["code_verifier"]) >= 43
    row = TalkdeskConnection.objects.get(user=stranger)
    assert row.talkdesk_user_id == sandbox.data.agents[2].id
    assert row.expires_at is not None and row.expires_at > datetime.now(UTC)
    page = stranger_client.get("/cases/").content.decode()
    assert f"Connected as <strong>{sandbox.data.agents[2].name}" in page


def test_callback_with_a_wrong_missing_or_reused_state_is_refused_without_a_token_request(
    stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    sandbox = sandbox_requests
    location = approve(sandbox, stranger_client.get("/talkdesk/connect/")["Location"])
    code = parse_qs(urlsplit(location).query)["code"][0]

    assert stranger_client.get(f"/talkdesk/callback/?code={code}&state=forged").status_code == 400
    assert stranger_client.get(f"/talkdesk/callback/?code={code}").status_code == 400
    # The forged attempt used up the pending state: the genuine one is now refused too.
    assert stranger_client.get(callback_path(location)).status_code == 400
    assert token_requests(sandbox) == []

    location = approve(sandbox, stranger_client.get("/talkdesk/connect/")["Location"])
    assert stranger_client.get(callback_path(location)).status_code == 302
    assert stranger_client.get(callback_path(location)).status_code == 400
    assert len(token_requests(sandbox)) == 1


def test_denied_consent_says_so_and_stores_nothing(
    stranger: User, stranger_client: Client, sandbox: Sandbox
) -> None:
    location = approve(
        sandbox, stranger_client.get("/talkdesk/connect/")["Location"], decision="deny"
    )
    response = stranger_client.get(callback_path(location), follow=True)
    assert "Talkdesk access was not granted" in response.content.decode()
    assert (
        not TalkdeskConnection.objects.filter(user=stranger)
        .exclude(access_token_encrypted="")
        .exists()
    )


def test_sign_in_with_talkdesk_creates_a_user_then_links_the_same_one(
    client: Client, sandbox: Sandbox
) -> None:
    for _ in range(2):
        location = approve(sandbox, client.get("/talkdesk/sign-in/")["Location"], agent_index=4)
        response = client.get(callback_path(location))
        assert response.status_code == 302
        assert client.get("/cases/").status_code == 200
        client.post("/accounts/logout/")
    agent = sandbox.data.agents[4]
    (user,) = User.objects.filter(talkdesk__talkdesk_user_id=agent.id)
    assert user.email == agent.email
    assert User.objects.count() == 1
    assert not user.has_usable_password()


def test_sign_in_never_redirects_to_another_host(client: Client, sandbox: Sandbox) -> None:
    start = client.get("/talkdesk/sign-in/?next=https://evil.example/steal")
    location = approve(sandbox, start["Location"])
    assert client.get(callback_path(location))["Location"] == "/cases/"


def test_disconnect_is_a_post_and_forgets_the_tokens(manager: User, manager_client: Client) -> None:
    assert manager_client.get("/talkdesk/disconnect/").status_code == 405
    manager_client.post("/talkdesk/disconnect/")
    row = TalkdeskConnection.objects.get(user=manager)
    assert row.access_token_encrypted == "" and row.refresh_token_encrypted == ""
    assert "Not connected" in manager_client.get("/cases/").content.decode()


def _all_stored_text() -> str:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT * FROM dashboard_talkdeskconnection")
        rows = cursor.fetchall()
        cursor.execute("SELECT session_data FROM django_session")
        rows += cursor.fetchall()
    return repr(rows)


def test_tokens_never_appear_in_the_database_logs_pages_or_urls(
    stranger: User, sandbox_requests: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = sandbox_requests
    caplog.set_level(logging.DEBUG)
    client = signed_in(stranger)
    start = client.get("/talkdesk/connect/")
    location = approve(sandbox, start["Location"])
    done = client.get(callback_path(location))
    seen = [start["Location"], location, done["Location"], *done.headers.values()]
    seen += [client.get(path).content.decode() for path in ("/cases/", "/cases/1/")]
    sandbox.expire_access_tokens()  # so the app spends its refresh token, and we see it
    seen.append(client.get("/cases/?status=OPEN").content.decode())

    api_calls = [r for r in sandbox.requests if r.path.startswith("/cm/")]
    access_tokens = {r.headers["authorization"].removeprefix("Bearer ") for r in api_calls}
    refresh_tokens = {
        r.form["refresh_token"] for r in token_requests(sandbox) if "refresh_token" in r.form
    }
    assert len(access_tokens) == 2 and len(refresh_tokens) == 1
    everything = "\n".join(seen) + caplog.text + _all_stored_text()
    for secret in access_tokens | refresh_tokens:
        assert secret not in everything


def test_rotating_keys_reencrypts_every_token_under_the_newest_key(
    manager: User, settings: Any, sandbox: Sandbox
) -> None:
    before = TalkdeskConnection.objects.get(user=manager).access_token_encrypted
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    call_command("rotate_token_keys")
    after = TalkdeskConnection.objects.get(user=manager).access_token_encrypted
    assert after != before
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]  # the old keys are gone
    assert client_for(manager).list_cases(CaseQuery(per_page=1)).total == len(sandbox.data.cases)


def test_a_ciphertext_copied_to_another_user_fails_and_asks_to_reconnect(
    manager: User, colleague: User, sandbox_requests: Sandbox
) -> None:
    stolen = TalkdeskConnection.objects.get(user=manager)
    TalkdeskConnection.objects.filter(user=colleague).update(
        access_token_encrypted=stolen.access_token_encrypted,
        refresh_token_encrypted=stolen.refresh_token_encrypted,
    )
    page = signed_in(colleague).get("/cases/").content.decode()
    assert "Reconnect Talkdesk" in page
    assert TalkdeskConnection.objects.get(user=colleague).reconnect_required
    assert [r for r in sandbox_requests.requests if r.path.startswith("/cm/")] == []


def test_a_lost_key_means_reconnect_and_no_ciphertext_is_ever_sent(
    manager: User, manager_client: Client, settings: Any, sandbox_requests: Sandbox
) -> None:
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    page = manager_client.get("/cases/").content.decode()
    assert "Reconnect required" in page and "Reconnect Talkdesk" in page
    assert sandbox_requests.requests == []


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    TalkdeskConnection.objects.filter(user=manager).update(
        expires_at=datetime.now(UTC) + timedelta(seconds=20)
    )
    assert manager_client.get("/cases/?per_page=5").status_code == 200
    paths = [r.path for r in sandbox_requests.requests]
    assert paths[0] == "/oauth/token"
    (refresh,) = token_requests(sandbox_requests)
    assert set(refresh.form) == {"grant_type", "refresh_token"}
    assert all(r.status == 200 for r in sandbox_requests.requests)


def test_an_upstream_401_means_exactly_one_refresh_and_one_retry(
    manager: User, manager_client: Client, sandbox_requests: Sandbox, htmx: dict[str, str]
) -> None:
    sandbox_requests.expire_access_tokens()
    here = {**htmx, "HX-Current-URL": "http://testserver/cases/?per_page=5&status=OPEN&page=2"}
    response = manager_client.get("/cases/?per_page=5&status=OPEN", headers=here)
    assert response.status_code == 200
    calls = [(r.path, r.status) for r in sandbox_requests.requests]
    assert calls == [
        ("/cm/core/va/cases", 401),
        ("/oauth/token", 200),
        ("/cm/core/va/cases", 200),
    ]


def test_a_revoked_refresh_token_means_reconnect_after_one_token_call(
    manager: User, manager_client: Client, sandbox_requests: Sandbox
) -> None:
    sandbox_requests.expire_access_tokens()
    sandbox_requests.revoke_refresh_tokens()
    page = manager_client.get("/cases/").content.decode()
    assert "Reconnect Talkdesk" in page
    assert len(token_requests(sandbox_requests)) == 1
    assert TalkdeskConnection.objects.get(user=manager).reconnect_required
    manager_client.get("/cases/")
    assert len(token_requests(sandbox_requests)) == 1, "no retry loop"


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_requests_with_an_expired_token_refresh_once(
    sandbox_requests: Sandbox,
) -> None:
    user = User.objects.create_user("racer")
    connect(user, sandbox_requests)
    TalkdeskConnection.objects.filter(user=user).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    sandbox_requests.clear_requests()
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def browse() -> None:
        try:
            client = client_for(user)
            barrier.wait()
            results.append(client.list_cases(CaseQuery(per_page=1)).total)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=browse) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 8
    assert len(token_requests(sandbox_requests)) == 1
    assert all(r.status == 200 for r in sandbox_requests.requests)


def test_reconnect_required_client_raises_until_reconnected(manager: User) -> None:
    from dashboard.talkdesk import ReconnectRequired

    TalkdeskConnection.objects.filter(user=manager).update(reconnect_required=True)
    with pytest.raises(ReconnectRequired):
        client_for(manager)


def test_one_talkdesk_identity_connects_to_one_casebook_user(
    manager: User, stranger: User, stranger_client: Client, sandbox_requests: Sandbox
) -> None:
    taken = TalkdeskConnection.objects.get(user=manager).talkdesk_user_id
    agent_index = next(i for i, a in enumerate(sandbox_requests.data.agents) if a.id == taken)
    location = approve(
        sandbox_requests,
        stranger_client.get("/talkdesk/connect/")["Location"],
        agent_index=agent_index,
    )
    page = stranger_client.get(callback_path(location), follow=True).content.decode()
    assert "already connected to another Casebook account" in page
    assert (
        not TalkdeskConnection.objects.filter(user=stranger)
        .exclude(access_token_encrypted="")
        .exists()
    )
