"""Re-encrypt every stored Talkdesk token under the newest TOKEN_ENCRYPTION_KEYS key.

Rotation: put a new key first in TOKEN_ENCRYPTION_KEYS (keep the old ones after it), run
this command, then remove the old keys. Rows no key can read are marked "reconnect
required" and reported; they are never left half-rotated.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from dashboard.crypto import TokenDecryptionError, decrypt_token, rotate_token
from dashboard.models import TalkdeskConnection


class Command(BaseCommand):
    help = "Re-encrypt stored Talkdesk tokens under the first TOKEN_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = unreadable = 0
        for connection_id in TalkdeskConnection.objects.exclude(
            access_token_encrypted=""
        ).values_list("pk", flat=True):
            with transaction.atomic():
                row = TalkdeskConnection.objects.select_for_update().get(pk=connection_id)
                try:
                    for name in ("access_token_encrypted", "refresh_token_encrypted"):
                        ciphertext = getattr(row, name)
                        if ciphertext:
                            decrypt_token(row.user_id, ciphertext)  # checks the owner binding
                            setattr(row, name, rotate_token(ciphertext))
                except TokenDecryptionError:
                    row.reconnect_required = True
                    row.save(update_fields=["reconnect_required", "updated_at"])
                    unreadable += 1
                    continue
                row.save(
                    update_fields=[
                        "access_token_encrypted",
                        "refresh_token_encrypted",
                        "updated_at",
                    ]
                )
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} connection(s) under the newest key.")
        if unreadable:
            self.stdout.write(
                self.style.WARNING(
                    f"{unreadable} connection(s) could not be decrypted with any configured key; "
                    "they are marked “reconnect required”."
                )
            )
