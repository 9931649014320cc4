"""The spine: sign-in, the base layout's security headers, /healthz, and start-up settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_home_redirects_to_the_case_browser(manager_client: Client) -> None:
    response = manager_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/cases/"


@pytest.mark.parametrize("path", ["/cases/", "/cases/12/", "/talkdesk/connect/"])
def test_every_page_asks_an_anonymous_visitor_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_offers_password_and_talkdesk_sign_in(client: Client) -> None:
    response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign in with Talkdesk" in html
    assert 'name="password"' in html


def test_signing_in_with_a_password_lands_on_the_case_browser(
    client: Client, stranger: User
) -> None:
    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/cases/"


def test_a_wrong_password_is_refused_with_a_message(client: Client, stranger: User) -> None:
    response = client.post("/accounts/login/", {"username": "sam", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_is_a_post_and_a_get_does_not_sign_out(stranger_client: Client) -> None:
    assert stranger_client.get("/accounts/logout/").status_code == 405
    assert stranger_client.post("/accounts/logout/").status_code == 302
    assert stranger_client.get("/cases/").status_code == 302


def test_pages_carry_a_strict_content_security_policy_and_a_nonced_htmx(
    stranger_client: Client,
) -> None:
    response = stranger_client.get("/cases/")
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts, "htmx must be on the page"
    assert all(f'nonce="{nonce[1]}"' in tag for tag in scripts)
    assert "style=" not in html, "inline styles are blocked by the CSP"
    assert '"allowEval":false' in html and '"historyCacheSize":0' in html


def test_base_layout_has_landmarks_and_a_skip_link(stranger_client: Client) -> None:
    html = stranger_client.get("/cases/").content.decode()
    assert 'href="#main"' in html and 'id="main"' in html
    assert "<header" in html and "<nav" in html and "<main" in html
    assert "Not connected" in html and "Connect Talkdesk" in html


def test_healthz_reports_database_and_cache(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_healthz_is_503_when_the_cache_is_down(client: Client, settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "unavailable"
    assert response.json()["database"] == "ok"


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """manage.py in a fresh process with only `env` (and no .env file) as its settings."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("TALKDESK_", "SECRET", "SECURE_", "TOKEN_", "DEBUG", "DATABASE_", "CACHE_", "DJANGO_")
        )
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env | {"ENV_FILE": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )


KEY = "dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY="


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "false", "TOKEN_ENCRYPTION_KEYS": KEY}, "SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "x" * 50}, "TOKEN_ENCRYPTION_KEYS"),
        (
            {"DEBUG": "false", "SECRET_KEY": "x" * 50, "TOKEN_ENCRYPTION_KEYS": "not-a-key"},
            "TOKEN_ENCRYPTION_KEYS",
        ),
        (
            {"DEBUG": "true", "TALKDESK_CLIENT_ID": "abc", "TALKDESK_ACCOUNT": "acme"},
            "TALKDESK_CLIENT_SECRET",
        ),
        (
            {"DEBUG": "true", "TALKDESK_CLIENT_ID": "a", "TALKDESK_CLIENT_SECRET": "b"},
            "TALKDESK_ACCOUNT",
        ),
        ({"DEBUG": "true", "TALKDESK_API_URL": "http://api.example.com"}, "TALKDESK_API_URL"),
        ({"DEBUG": "true", "TALKDESK_ARRAY_ENCODING": "xml"}, "TALKDESK_ARRAY_ENCODING"),
    ],
)
def test_a_missing_or_malformed_setting_stops_start_up_naming_it(
    env: dict[str, str], named: str
) -> None:
    result = _manage("check", env=env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and named in last_line


def test_production_settings_pass_the_deployment_check() -> None:
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "-production-like-secret-" + "q" * 30,
        "TOKEN_ENCRYPTION_KEYS": KEY,
        "ALLOWED_HOSTS": "casebook.example.com",
        "TALKDESK_ACCOUNT": "acme",
        "TALKDESK_CLIENT_ID": "client",
        "TALKDESK_CLIENT_SECRET": "secret",
        "TALKDESK_REDIRECT_URI": "https://casebook.example.com/talkdesk/callback/",
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_traceback_is_logged_on_one_line() -> None:
    import logging

    from dashboard.logs import OneLineFormatter

    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line
    assert "ValueError: boom" in line and "Traceback" in line
