"""Shared fixtures: the sandbox Talkdesk on a free port, settings aimed at it, and personas.

Personas (healthchecks' alice/bob/charlie): `manager` is connected to Talkdesk as one agent,
`colleague` as another, `stranger` has a Casebook account and no Talkdesk connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from dashboard.connection import store_tokens
from dashboard.models import TalkdeskConnection
from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk.models import parse_token_response

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.browser"]

TEST_REDIRECT_URI = "http://localhost/talkdesk/callback/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """On SQLite, a fresh file per run rather than shared-cache memory: concurrent refreshes
    then take real locks, as they do in production."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["TEST"]["NAME"] = str(tmp_path_factory.mktemp("db") / "casebook.sqlite3")


@pytest.fixture(autouse=True)
def talkdesk_settings(settings: Any, sandbox: Sandbox) -> Sandbox:
    """Every test talks to the session's sandbox, exactly as production talks to Talkdesk."""
    settings.TALKDESK_AUTH_URL = sandbox.base_url
    settings.TALKDESK_API_URL = sandbox.base_url
    settings.TALKDESK_CLIENT_ID = sandbox.client_id
    settings.TALKDESK_CLIENT_SECRET = sandbox.client_secret
    settings.TALKDESK_REDIRECT_URI = TEST_REDIRECT_URI
    sandbox.register_redirect_uri(TEST_REDIRECT_URI)
    # Password hashing is deliberately slow; tests sign in often and prove nothing with it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return sandbox


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def impatient_transport() -> Iterator[None]:
    """The app's transport with a 1 s read timeout and a 2 s budget, so stalls fail fast."""
    from dashboard.connection import shared_transport

    transport = shared_transport()
    saved = transport.budget, transport.read_timeout
    transport.budget, transport.read_timeout = 2.0, 1.0
    yield
    transport.budget, transport.read_timeout = saved


def connect(
    user: User, sandbox: Sandbox, *, agent_index: int = 0, **token_options: Any
) -> TalkdeskConnection:
    """Give `user` a Talkdesk connection as the sandbox's agent number `agent_index`."""
    agent = sandbox.data.agents[agent_index]
    token_json = sandbox.issue_tokens(user_id=agent.id, **token_options)
    connection, _ = TalkdeskConnection.objects.get_or_create(user=user)
    connection.talkdesk_user_id = agent.id
    connection.talkdesk_name = agent.name
    connection.talkdesk_email = agent.email
    connection.connected_at = datetime.now(UTC)
    store_tokens(connection, parse_token_response(token_json, now=datetime.now(UTC)))
    return connection


def _user(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, **extra)


@pytest.fixture
def manager(db: None, sandbox: Sandbox) -> User:
    user = _user("ana", first_name="Ana", last_name="Ruiz", email="ana@example.com")
    connect(user, sandbox, agent_index=0)
    return user


@pytest.fixture
def colleague(db: None, sandbox: Sandbox) -> User:
    user = _user("lee", first_name="Lee", last_name="Park")
    connect(user, sandbox, agent_index=1)
    return user


@pytest.fixture
def stranger(db: None) -> User:
    return _user("sam")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager_client(manager: User) -> Client:
    return signed_in(manager)


@pytest.fixture
def colleague_client(colleague: User) -> Client:
    return signed_in(colleague)


@pytest.fixture
def stranger_client(stranger: User) -> Client:
    return signed_in(stranger)


@pytest.fixture
def htmx() -> dict[str, str]:
    """Headers htmx sends, so a test asks for the fragment the page would."""
    return {"HX-Request": "true", "HX-Current-URL": "http://testserver/cases/"}
