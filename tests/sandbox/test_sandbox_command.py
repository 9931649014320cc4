"""``manage.py sandbox``: its options, and a real run from start-up to Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from dashboard.management.commands.sandbox import Command
from dashboard.sandbox.app import DEFAULT_REDIRECT_URIS

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def test_the_command_defaults_match_the_demo_setup() -> None:
    options = Command().create_parser("manage.py", "sandbox").parse_args([])
    assert (options.host, options.port, options.cases, options.seed) == (
        "127.0.0.1",
        8001,
        10_000,
        42,
    )
    assert (options.latency_ms, options.error_rate, options.token_ttl) == (0, 0.0, 600)
    assert (options.client_id, options.client_secret) == ("casebook-demo", "casebook-demo-secret")
    assert options.redirect_uris is None  # the command then registers DEFAULT_REDIRECT_URIS
    assert DEFAULT_REDIRECT_URIS == (
        "http://127.0.0.1:8000/talkdesk/callback/",
        "http://localhost:8000/talkdesk/callback/",
    )


def test_redirect_uri_is_repeatable() -> None:
    options = (
        Command()
        .create_parser("manage.py", "sandbox")
        .parse_args(["--redirect-uri", "http://a/cb", "--redirect-uri", "http://b/cb"])
    )
    assert options.redirect_uris == ["http://a/cb", "http://b/cb"]


def test_the_command_serves_until_interrupted_and_prints_how_to_connect() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            str(MANAGE_PY),
            "sandbox",
            "--port=0",
            "--cases=50",
            "--client-id=demo-x",
            "--client-secret=s3cret",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A shell that runs the tests in the background ignores SIGINT; the child must not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(printed)
        match = re.search(r"Sandbox Talkdesk on (http://127\.0\.0\.1:\d+)", output)
        assert match, output
        base_url = match.group(1)
        assert f"TALKDESK_API_URL={base_url}" in output
        assert "TALKDESK_CLIENT_ID=demo-x" in output and "TALKDESK_CLIENT_SECRET=s3cret" in output
        response = requests.get(f"{base_url}/cm/core/va/cases", timeout=5)
        assert response.json() == {"code": "1520006", "message": "Unauthorized."}
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "Stopping the sandbox" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
