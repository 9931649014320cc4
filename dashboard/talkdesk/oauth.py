"""The OAuth 2.0 authorization-code flow against Talkdesk ID, without Django.

Where the state and the PKCE verifier are kept (the session) and where tokens are stored is the
caller's business; this module builds the authorize URL and talks to the token endpoint.
Talkdesk documents no PKCE (talkdesk-api.md §6.3), so `state` is what protects the callback;
the S256 challenge is sent anyway because an authorization server ignores parameters it does not
know (RFC 6749 §3.1) and honours them if it does (reference A1).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from .hosts import check_base_url
from .models import TokenSet, parse_token_response
from .transport import Transport


@dataclass(frozen=True)
class OAuthClientConfig:
    """The registered OAuth client and the Talkdesk ID base URL it belongs to."""

    auth_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_url", check_base_url(self.auth_url, name="auth_url"))
        if not self.client_id or not self.client_secret:
            raise ValueError("The Talkdesk OAuth client needs both a client id and a secret.")
        # Casebook's own callback, never called by us: whether plain http is acceptable there
        # is the settings' decision (tests use http://testserver); Talkdesk matches it exactly.
        redirect = urlsplit(self.redirect_uri)
        if redirect.scheme not in {"https", "http"} or not redirect.hostname or redirect.fragment:
            raise ValueError("redirect_uri must be an absolute http(s) URL without a fragment.")

    @property
    def token_url(self) -> str:
        return f"{self.auth_url}/oauth/token"


def new_pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636 §4.1–4.2)."""
    verifier = secrets.token_urlsafe(32)  # 43 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """An unguessable, single-use `state` value (256 bits)."""
    return secrets.token_urlsafe(32)


def authorization_url(config: OAuthClientConfig, *, state: str, code_challenge: str) -> str:
    """The Talkdesk ID authorize URL to send the person to."""
    if not state or not code_challenge:
        raise ValueError("An authorization request needs a state and a code challenge.")
    query = [
        ("response_type", "code"),
        ("client_id", config.client_id),
        ("redirect_uri", config.redirect_uri),
        ("scope", " ".join(config.scopes)),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ]
    return f"{config.auth_url}/oauth/authorize?{urlencode(query, quote_via=quote, safe='')}"


def exchange_code(
    config: OAuthClientConfig,
    transport: Transport,
    *,
    code: str,
    code_verifier: str,
    now: datetime | None = None,
) -> TokenSet:
    """Trade an authorization code for tokens (grant_type=authorization_code)."""
    # Expiry counts from before the request: the token may have been issued any time after.
    sent_at = now or datetime.now(UTC)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "code_verifier": code_verifier,
    }
    document = transport.post_token(config.token_url, form, config.client_id, config.client_secret)
    return parse_token_response(document, now=sent_at)


def refresh_tokens(
    config: OAuthClientConfig,
    transport: Transport,
    *,
    refresh_token: str,
    now: datetime | None = None,
) -> TokenSet:
    """Use a refresh token. The body holds only grant_type and refresh_token, so the original
    scopes are re-issued; a response without a refresh token keeps the old one (no rotation).

    Raises ReconnectRequired when Talkdesk rejects the refresh token (invalid_grant).
    """
    sent_at = now or datetime.now(UTC)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    document = transport.post_token(config.token_url, form, config.client_id, config.client_secret)
    tokens = parse_token_response(document, now=sent_at)
    if tokens.refresh_token is None:
        return dataclasses.replace(tokens, refresh_token=refresh_token)
    return tokens
