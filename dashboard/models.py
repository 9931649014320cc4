from __future__ import annotations

from django.conf import settings
from django.db import models


class TalkdeskConnection(models.Model):
    """A Django user's link to their Talkdesk identity, and their OAuth tokens.

    The row outlives a disconnect (tokens are cleared, the identity stays) so that
    "Sign in with Talkdesk" finds the same Django user again. Tokens are stored only as
    ciphertext bound to this user (see crypto.py); `expires_at` is absolute, never relative.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="talkdesk"
    )
    talkdesk_user_id = models.CharField(max_length=255, blank=True, db_index=True)
    talkdesk_name = models.CharField(max_length=255, blank=True)
    talkdesk_email = models.EmailField(max_length=255, blank=True)
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)
    reconnect_required = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Talkdesk connection of {self.user}"

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token_encrypted)

    @property
    def state(self) -> str:
        """What the header tells the person: connected, reconnect_required or not_connected."""
        if self.reconnect_required:
            return "reconnect_required"
        return "connected" if self.has_tokens else "not_connected"
