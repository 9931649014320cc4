"""The per-user Talkdesk connection: storing tokens, refreshing them safely, making clients.

Refresh is ours, not requests-oauthlib's auto refresh (DESIGN §3, habit 7): a token is
refreshed shortly before its absolute `expires_at`, and once after an upstream 401. Talkdesk
may rotate refresh tokens, so a refresh token must never be spent twice: every refresh
happens inside a transaction that locks the row (SELECT ... FOR UPDATE on PostgreSQL; on
SQLite the IMMEDIATE transaction mode takes the database write lock at BEGIN) and looks at
the row again once the lock is held, because another thread or process may have refreshed
while this one waited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from dashboard.crypto import TokenDecryptionError, decrypt_token, encrypt_token
from dashboard.models import TalkdeskConnection
from dashboard.talkdesk import (
    ArrayEncoding,
    OAuthClientConfig,
    ReconnectRequired,
    TalkdeskClient,
    TalkdeskError,
    TokenSet,
    Transport,
    refresh_tokens,
)

logger = logging.getLogger(__name__)

# Refresh this long before the access token expires, so a call never starts with a token
# that dies in flight (Talkdesk's tokens live 10 minutes).
REFRESH_AHEAD = timedelta(seconds=60)


class NotConnected(Exception):
    """The user has no usable Talkdesk tokens: connect (or reconnect) first."""


def is_configured() -> bool:
    return bool(settings.TALKDESK_CLIENT_ID and settings.TALKDESK_API_URL)


def oauth_config() -> OAuthClientConfig:
    return OAuthClientConfig(
        auth_url=settings.TALKDESK_AUTH_URL,
        client_id=settings.TALKDESK_CLIENT_ID,
        client_secret=settings.TALKDESK_CLIENT_SECRET,
        redirect_uri=settings.TALKDESK_REDIRECT_URI,
        scopes=tuple(settings.TALKDESK_SCOPES),
    )


def account_key() -> str:
    """Which Talkdesk account the tokens belong to: part of every cache key."""
    account: str = settings.TALKDESK_ACCOUNT or urlsplit(settings.TALKDESK_API_URL).netloc
    return account


@cache
def shared_transport() -> Transport:
    # One per process: it keeps a connection pool per thread, so it is safe to share.
    return Transport()


def connection_of(user: AbstractBaseUser | AnonymousUser) -> TalkdeskConnection | None:
    """The user's connection row, read once per request (the view and the header both ask)."""
    if not user.is_authenticated:
        return None
    memo: TalkdeskConnection | None = user.__dict__.get("_talkdesk_connection", _UNREAD)
    if memo is _UNREAD:
        memo = TalkdeskConnection.objects.filter(user_id=user.pk).first()
        user.__dict__["_talkdesk_connection"] = memo
    return memo


_UNREAD: Any = object()


@sensitive_variables("tokens")
def store_tokens(connection: TalkdeskConnection, tokens: TokenSet) -> None:
    """Persist a fresh token set; a response without a refresh token keeps the old one."""
    connection.access_token_encrypted = encrypt_token(connection.user_id, tokens.access_token)
    if tokens.refresh_token:
        connection.refresh_token_encrypted = encrypt_token(connection.user_id, tokens.refresh_token)
    connection.expires_at = tokens.expires_at
    connection.scopes = " ".join(tokens.scopes)
    connection.reconnect_required = False
    connection.save()


def forget_tokens(connection: TalkdeskConnection) -> None:
    connection.access_token_encrypted = ""
    connection.refresh_token_encrypted = ""
    connection.expires_at = None
    connection.scopes = ""
    connection.reconnect_required = False
    connection.save()


def _mark_reconnect_required(connection: TalkdeskConnection, why: str) -> None:
    TalkdeskConnection.objects.filter(pk=connection.pk).update(reconnect_required=True)
    connection.reconnect_required = True  # the instance this request's header will show
    logger.warning("talkdesk connection %s needs reconnecting: %s", connection.pk, why)


class ConnectionTokens:
    """A TokenSource over one user's stored connection (the client calls it for tokens)."""

    def __init__(self, connection: TalkdeskConnection) -> None:
        self._connection = connection
        self._connection_id = connection.pk
        self._user_id = connection.user_id
        self._cached: tuple[str, datetime] | None = None
        if connection.reconnect_required:
            raise ReconnectRequired("Your Talkdesk connection has ended. Reconnect Talkdesk.")
        if not connection.has_tokens:
            raise NotConnected
        try:
            token = self._decrypt(connection.access_token_encrypted)
        except _Unusable as exc:
            _mark_reconnect_required(self._connection, exc.why)
            raise ReconnectRequired(exc.message) from None
        self._cached = (token, _expiry(connection))

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return decrypt_token(self._user_id, ciphertext)
        except TokenDecryptionError as exc:
            # Never send ciphertext upstream: the person reconnects instead.
            raise _Unusable(
                str(exc), "Casebook can no longer read your Talkdesk connection."
            ) from exc

    def access_token(self) -> str:
        assert self._cached is not None
        token, expires_at = self._cached
        if expires_at - REFRESH_AHEAD > timezone.now():
            return token
        return self._refresh(rejected=None)

    def refresh_after_unauthorized(self, rejected: str) -> str:
        return self._refresh(rejected=rejected)

    def _refresh(self, *, rejected: str | None) -> str:
        try:
            token, expires_at = self._refresh_locked(rejected=rejected)
        except _Unusable as exc:
            # Recorded outside the refresh transaction, which has rolled back by now.
            _mark_reconnect_required(self._connection, exc.why)
            raise ReconnectRequired(exc.message) from None
        self._cached = (token, expires_at)
        return token

    @sensitive_variables("rejected", "current", "refresh_token", "fresh")
    def _refresh_locked(self, *, rejected: str | None) -> tuple[str, datetime]:
        with transaction.atomic():
            row = TalkdeskConnection.objects.select_for_update().get(pk=self._connection_id)
            if row.reconnect_required or not row.has_tokens:
                raise ReconnectRequired("Your Talkdesk connection has ended. Reconnect Talkdesk.")
            current = self._decrypt(row.access_token_encrypted)
            expires_at = _expiry(row)
            someone_else_refreshed = (
                current != rejected if rejected else expires_at - REFRESH_AHEAD > timezone.now()
            )
            if someone_else_refreshed:
                return current, expires_at
            if not row.refresh_token_encrypted:
                raise _Unusable("no refresh token", "Your Talkdesk session has expired.")
            refresh_token = self._decrypt(row.refresh_token_encrypted)
            try:
                fresh = refresh_tokens(
                    oauth_config(), shared_transport(), refresh_token=refresh_token
                )
            except ReconnectRequired as exc:
                raise _Unusable("refresh token rejected", exc.message) from None
            store_tokens(row, fresh)
        return fresh.access_token, fresh.expires_at


class _Unusable(Exception):
    """The stored tokens can no longer be used: the person must reconnect."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(why)
        self.why = why
        self.message = f"{message} Reconnect Talkdesk."


def _expiry(connection: TalkdeskConnection) -> datetime:
    # A row without an expiry is treated as expired: refreshing is cheaper than a 401.
    return connection.expires_at or timezone.now()


def client_for(user: AbstractBaseUser | AnonymousUser) -> TalkdeskClient:
    """A Talkdesk client acting as `user`; raises NotConnected when there is nothing to use."""
    connection = connection_of(user)
    if connection is None or not is_configured():
        raise NotConnected
    return TalkdeskClient(
        settings.TALKDESK_API_URL,
        ConnectionTokens(connection),
        transport=shared_transport(),
        array_encoding=ArrayEncoding(settings.TALKDESK_ARRAY_ENCODING),
    )


def fan_out_client_for(user: AbstractBaseUser | AnonymousUser) -> TalkdeskClient:
    """A client for many concurrent calls (exports, the queue overview).

    The token is made fresh once, here, in the calling thread; the client then carries that
    token as a plain string, so worker threads never refresh (nor touch the database). A token
    living 10 minutes outlasts any fan-out we do; an upstream 401 in a worker is an error.
    """
    connection = connection_of(user)
    if connection is None or not is_configured():
        raise NotConnected
    token = ConnectionTokens(connection).access_token()
    return TalkdeskClient(
        settings.TALKDESK_API_URL,
        token,
        transport=shared_transport(),
        array_encoding=ArrayEncoding(settings.TALKDESK_ARRAY_ENCODING),
    )


__all__ = [
    "ConnectionTokens",
    "NotConnected",
    "TalkdeskError",
    "account_key",
    "client_for",
    "connection_of",
    "fan_out_client_for",
    "forget_tokens",
    "is_configured",
    "oauth_config",
    "shared_transport",
    "store_tokens",
]
