"""`python manage.py demo`: the whole round trip on one machine.

Migrates the SQLite database, makes sure the demo user exists, starts the sandbox Talkdesk
on :8001 and serves Casebook on :8000, all in this one process so Ctrl-C stops everything.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Run Casebook with the sandbox Talkdesk and a demo user (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8001)
        parser.add_argument("--cases", type=int, default=10_000)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo runs only with DEBUG=true (it serves a sandbox).")
        from dashboard.sandbox.server import start

        call_command("migrate", verbosity=0, interactive=False)
        password = self._demo_password()
        sandbox = start(
            port=options["sandbox_port"],
            cases=options["cases"],
            redirect_uris=[settings.TALKDESK_REDIRECT_URI],
        )
        self.stdout.write(
            self.style.SUCCESS("\nCasebook demo\n")
            + f"  dashboard        http://127.0.0.1:{options['port']}/\n"
            + f"  sign in as       {DEMO_USERNAME} / {password}\n"
            + f"  sandbox Talkdesk {sandbox.base_url}  (OAuth client {sandbox.client_id})\n"
            + "  then press “Connect Talkdesk” and approve as any agent.\n"
        )
        try:
            call_command(
                "runserver", f"127.0.0.1:{options['port']}", use_reloader=False, use_threading=True
            )
        finally:
            sandbox.stop()

    def _demo_password(self) -> str:
        """The demo user's password, new on every start so it is never a known default."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"first_name": "Demo", "last_name": "Manager"}
        )
        user.set_password(password)
        user.save()
        return password
