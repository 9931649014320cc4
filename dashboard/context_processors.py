from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dashboard.connection import connection_of, is_configured


def talkdesk_connection(request: HttpRequest) -> dict[str, Any]:
    """The header's Talkdesk state, on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    connection = connection_of(user)
    return {
        "talkdesk_configured": is_configured(),
        "talkdesk_connection": connection,
        "talkdesk_state": connection.state if connection else "not_connected",
    }
