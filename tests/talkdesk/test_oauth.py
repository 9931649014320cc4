from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from dashboard.talkdesk import (
    OAuthClientConfig,
    ReconnectRequired,
    Transport,
    authorization_url,
    exchange_code,
    new_pkce_pair,
    new_state,
    refresh_tokens,
)

from .conftest import Reply, StubServer

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SCOPES = ("openid", "refresh_token", "cases-public:read")


def config_for(auth_url: str) -> OAuthClientConfig:
    return OAuthClientConfig(
        auth_url=auth_url,
        client_id="casebook-client",
        client_secret="client-secret-value",
        redirect_uri="https://casebook.example/talkdesk/callback/",
        scopes=SCOPES,
    )


def test_a_pkce_verifier_is_43_unreserved_characters_and_the_challenge_is_its_s256() -> None:
    verifier, challenge = new_pkce_pair()
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert new_pkce_pair()[0] != verifier


def test_a_state_carries_at_least_128_bits_and_is_never_repeated() -> None:
    states = {new_state() for _ in range(100)}
    assert len(states) == 100
    assert all(len(base64.urlsafe_b64decode(state + "==")) >= 16 for state in states)


def test_the_authorize_url_asks_for_a_code_with_state_and_an_s256_challenge() -> None:
    url = authorization_url(
        config_for("https://acme.talkdeskid.com/"), state="st4te", code_challenge="ch+al/lenge"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "acme.talkdeskid.com",
        "/oauth/authorize",
    )
    assert parse_qsl(parts.query) == [
        ("response_type", "code"),
        ("client_id", "casebook-client"),
        ("redirect_uri", "https://casebook.example/talkdesk/callback/"),
        ("scope", "openid refresh_token cases-public:read"),
        ("state", "st4te"),
        ("code_challenge", "ch+al/lenge"),
        ("code_challenge_method", "S256"),
    ]
    assert "scope=openid%20refresh_token%20cases-public%3Aread" in parts.query
    assert "client-secret-value" not in url


def test_the_client_config_hides_its_secret_and_checks_its_urls() -> None:
    config = config_for("https://acme.talkdeskid.com/")
    assert config.auth_url == "https://acme.talkdeskid.com"
    assert config.token_url == "https://acme.talkdeskid.com/oauth/token"
    assert "client-secret-value" not in repr(config)
    with pytest.raises(ValueError, match="auth_url"):
        config_for("http://acme.talkdeskid.com")
    for redirect_uri in ("/talkdesk/callback/", "casebook://cb", "https://c.example/cb#x"):
        with pytest.raises(ValueError, match="redirect_uri"):
            OAuthClientConfig("https://a.talkdeskid.com", "id", "s", redirect_uri, ())
    with pytest.raises(ValueError, match="client id and a secret"):
        OAuthClientConfig("https://a.talkdeskid.com", "id", "", "https://c.example/cb", ())
    loopback = OAuthClientConfig(
        "http://127.0.0.1:9", "id", "s", "http://localhost:8000/talkdesk/callback/", ()
    )
    assert loopback.redirect_uri == "http://localhost:8000/talkdesk/callback/"


def test_a_code_is_exchanged_with_its_verifier_and_basic_client_auth(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(
        Reply(
            body={
                "access_token": "at-1",
                "token_type": "Bearer",
                "refresh_token": "rt-1",
                "expires_in": 599,
                "scope": "openid cases-public:read",
                "id_token": "idt",
            }
        )
    )
    tokens = exchange_code(
        config_for(stub.url), transport, code="the-code", code_verifier="v" * 43, now=NOW
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token) == ("at-1", "rt-1", "idt")
    assert tokens.expires_at == NOW + timedelta(seconds=599)
    assert tokens.scopes == ("openid", "cases-public:read")
    (seen,) = stub.requests
    assert seen.target == "/oauth/token"
    assert seen.headers["Authorization"].startswith("Basic ")
    assert dict(parse_qsl(seen.body.decode())) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://casebook.example/talkdesk/callback/",
        "code_verifier": "v" * 43,
    }


def test_a_refresh_sends_only_the_grant_type_and_the_refresh_token(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(body={"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 600}))
    tokens = refresh_tokens(config_for(stub.url), transport, refresh_token="rt-1", now=NOW)
    assert (tokens.access_token, tokens.refresh_token) == ("at-2", "rt-2")
    assert tokens.expires_at == NOW + timedelta(seconds=600)
    assert parse_qsl(stub.requests[0].body.decode()) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "rt-1"),
    ]


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(body={"access_token": "at-2", "expires_in": 600}))
    tokens = refresh_tokens(config_for(stub.url), transport, refresh_token="rt-1", now=NOW)
    assert tokens.refresh_token == "rt-1"


def test_expiry_is_counted_from_before_the_request_when_no_time_is_given(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(body={"access_token": "at", "expires_in": 600}))
    before = datetime.now(UTC)
    tokens = refresh_tokens(config_for(stub.url), transport, refresh_token="rt")
    assert before + timedelta(seconds=600) <= tokens.expires_at
    assert tokens.expires_at <= datetime.now(UTC) + timedelta(seconds=600)
    assert tokens.expires_at.tzinfo is not None


def test_a_revoked_refresh_token_means_reconnect_after_one_token_call(
    transport: Transport, stub: StubServer
) -> None:
    stub.reply(Reply(status=400, body={"error": "invalid_grant"}))
    with pytest.raises(ReconnectRequired):
        refresh_tokens(config_for(stub.url), transport, refresh_token="rt-old")
    assert len(stub.requests) == 1
