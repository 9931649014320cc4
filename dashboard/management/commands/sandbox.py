"""``manage.py sandbox``: serve the stand-in Talkdesk for the demo until Ctrl-C."""

from __future__ import annotations

import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.sandbox.app import DEFAULT_REDIRECT_URIS
from dashboard.sandbox.server import start


class Command(BaseCommand):
    help = (
        "Serve the sandbox Talkdesk (Talkdesk ID + Case API) with generated data, for the demo. "
        "Prints the base URL and the OAuth client to configure Casebook with."
    )
    # The sandbox needs no database or settings checks; starting it must not depend on them.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind.")
        parser.add_argument("--port", type=int, default=8001, help="Port (0: any free port).")
        parser.add_argument("--cases", type=int, default=10_000, help="Cases to generate.")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the data generator.")
        parser.add_argument(
            "--latency-ms", type=int, default=0, help="Delay added to every API response."
        )
        parser.add_argument(
            "--error-rate",
            type=float,
            default=0.0,
            help="Fraction of API requests answered with a random 500/502/503.",
        )
        parser.add_argument(
            "--token-ttl", type=int, default=600, help="Access-token lifetime in seconds."
        )
        parser.add_argument("--client-id", default="casebook-demo")
        parser.add_argument("--client-secret", default="casebook-demo-secret")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            dest="redirect_uris",
            metavar="URI",
            help="A registered redirect URI; repeat for several "
            f"(default: {', '.join(DEFAULT_REDIRECT_URIS)}).",
        )
        parser.add_argument("--quiet", action="store_true", help="Do not log one line per request.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cases"] < 0:
            raise CommandError("--cases must be zero or more.")
        if not 0.0 <= options["error_rate"] <= 1.0:
            raise CommandError("--error-rate must be between 0 and 1.")
        if options["token_ttl"] < 1:
            raise CommandError("--token-ttl must be at least 1 second.")
        self.stdout.write(f"Generating {options['cases']:,} cases (seed {options['seed']})…")
        try:
            sandbox = start(
                options["host"],
                options["port"],
                cases=options["cases"],
                seed=options["seed"],
                latency_ms=options["latency_ms"],
                error_rate=options["error_rate"],
                token_ttl=options["token_ttl"],
                client_id=options["client_id"],
                client_secret=options["client_secret"],
                redirect_uris=options["redirect_uris"] or DEFAULT_REDIRECT_URIS,
                access_log=None if options["quiet"] else sys.stderr,
                # Only tests read the request log; a demo left running must not accumulate it.
                record_requests=False,
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        url = sandbox.base_url
        self.stdout.write(
            self.style.SUCCESS(f"Sandbox Talkdesk on {url}")
            + "\n\nConfigure Casebook with (e.g. in .env):\n"
            f"  TALKDESK_AUTH_URL={url}\n"
            f"  TALKDESK_API_URL={url}\n"
            f"  TALKDESK_CLIENT_ID={sandbox.client_id}\n"
            f"  TALKDESK_CLIENT_SECRET={sandbox.client_secret}\n"
            f"Registered redirect URIs: {', '.join(sandbox.redirect_uris)}\n"
            "Quit with Ctrl-C."
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the sandbox.")
        finally:
            sandbox.stop()
