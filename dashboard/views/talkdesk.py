"""Connecting a Casebook user to Talkdesk, and signing in with Talkdesk.

Both are the same authorization-code round trip with PKCE (S256) and a single-use `state`
bound to the session; only what happens after the code exchange differs.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from dashboard.connection import (
    connection_of,
    forget_tokens,
    is_configured,
    oauth_config,
    shared_transport,
    store_tokens,
)
from dashboard.models import TalkdeskConnection
from dashboard.talkdesk import (
    Me,
    TalkdeskClient,
    TalkdeskError,
    TokenSet,
    authorization_url,
    exchange_code,
    new_pkce_pair,
    new_state,
)

logger = logging.getLogger(__name__)

PENDING_KEY = "talkdesk_oauth_pending"


def _start(request: HttpRequest, purpose: str) -> HttpResponse:
    if not is_configured():
        messages.error(request, "Talkdesk is not configured on this Casebook server yet.")
        return redirect("cases" if purpose == "connect" else "login")
    state = new_state()
    verifier, challenge = new_pkce_pair()
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    request.session[PENDING_KEY] = {
        "state": state,
        "verifier": verifier,
        "purpose": purpose,
        "next": next_url,
    }
    return HttpResponseRedirect(
        authorization_url(oauth_config(), state=state, code_challenge=challenge)
    )


@require_GET
@never_cache
def connect(request: HttpRequest) -> HttpResponse:
    return _start(request, "connect")


@require_GET
@login_not_required
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    return _start(request, "sign_in")


def _refuse(request: HttpRequest, why: str) -> HttpResponse:
    response = render(request, "talkdesk/callback_error.html", {"why": why}, status=400)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _clean_redirect(to: str) -> HttpResponse:
    # The callback URL carries the code: leave it at once, and tell the browser not to
    # pass it on in a Referer.
    response = HttpResponseRedirect(to)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@login_not_required
@never_cache
@sensitive_variables("pending", "tokens")
def callback(request: HttpRequest) -> HttpResponse:
    pending: dict[str, str] | None = request.session.pop(PENDING_KEY, None)
    state = request.GET.get("state", "")
    if not pending or not state or not secrets.compare_digest(state, pending["state"]):
        return _refuse(
            request,
            "This Talkdesk sign-in link has expired or was already used. Please start again.",
        )
    purpose = pending["purpose"]
    home = pending["next"] or "/cases/"
    if purpose == "connect" and not request.user.is_authenticated:
        return _refuse(request, "You were signed out of Casebook meanwhile. Sign in and retry.")

    if request.GET.get("error"):
        if request.GET["error"] == "access_denied":
            messages.info(request, "Talkdesk access was not granted, so nothing was connected.")
        else:
            messages.error(request, "Talkdesk did not complete the sign-in. Please try again.")
        return _clean_redirect(home if purpose == "connect" else "/accounts/login/")

    code = request.GET.get("code", "")
    if not code:
        return _refuse(request, "Talkdesk sent no authorization code. Please start again.")
    try:
        tokens = exchange_code(
            oauth_config(), shared_transport(), code=code, code_verifier=pending["verifier"]
        )
        me = _who_is(tokens, required=purpose == "sign_in")
    except TalkdeskError as exc:
        logger.warning("talkdesk code exchange failed: %s", exc.message)
        messages.error(request, f"Connecting to Talkdesk failed: {exc.message}")
        return _clean_redirect(home if purpose == "connect" else "/accounts/login/")

    if purpose == "sign_in":
        assert me is not None
        user = _user_for(me)
        if user is None:
            messages.error(request, "A Casebook account already uses that name; ask an admin.")
            return _clean_redirect("/accounts/login/")
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    else:
        user = request.user
        if me is not None and _linked_elsewhere(me, user):
            # One Talkdesk identity, one Casebook user: "Sign in with Talkdesk" must not
            # have to guess which of two accounts it opens.
            messages.error(
                request,
                f"{me.name or 'That Talkdesk user'} is already connected to another Casebook "
                "account. Nothing was changed.",
            )
            return _clean_redirect(home)
    connection = _link(user, me)
    store_tokens(connection, tokens)
    name = connection.talkdesk_name or "your Talkdesk user"
    messages.success(request, f"Connected to Talkdesk as {name}.")
    return _clean_redirect(home)


def _who_is(tokens: TokenSet, *, required: bool) -> Me | None:
    from django.conf import settings

    try:
        return TalkdeskClient(
            settings.TALKDESK_API_URL, tokens.access_token, transport=shared_transport()
        ).me()
    except TalkdeskError:
        if required:
            raise
        # Connecting still works without `openid`; the header just cannot show a name.
        return None


@transaction.atomic
def _user_for(me: Me) -> Any:
    """The Django user linked to this Talkdesk identity, created on first sign-in.

    Linked by Talkdesk id only, never by e-mail: matching a local account by address would
    let whoever controls that address in Talkdesk take the local account over.
    """
    linked = (
        TalkdeskConnection.objects.select_related("user").filter(talkdesk_user_id=me.id).first()
    )
    if linked is not None:
        return linked.user
    user_model = get_user_model()
    username = f"talkdesk-{me.id}"[:150]
    if user_model.objects.filter(username=username).exists():
        return None  # never take over an account that merely has the expected name
    first, _, last = me.name.partition(" ")
    user = user_model.objects.create_user(
        username=username, email=me.email, first_name=first, last_name=last
    )
    user.set_unusable_password()
    user.save()
    return user


def _linked_elsewhere(me: Me, user: Any) -> bool:
    return (
        TalkdeskConnection.objects.filter(talkdesk_user_id=me.id).exclude(user_id=user.pk).exists()
    )


def _link(user: Any, me: Me | None) -> TalkdeskConnection:
    connection, _ = TalkdeskConnection.objects.get_or_create(user=user)
    if me is not None:
        connection.talkdesk_user_id = me.id
        connection.talkdesk_name = me.name
        connection.talkdesk_email = me.email
    connection.connected_at = timezone.now()
    connection.save()
    return connection


@require_POST
def disconnect(request: HttpRequest) -> HttpResponse:
    connection = connection_of(request.user)
    if connection is not None:
        forget_tokens(connection)
    messages.info(request, "Talkdesk is disconnected. Casebook has forgotten your tokens.")
    return redirect("cases")
