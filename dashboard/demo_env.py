"""Write a `.env` for the local demo (DEBUG, fresh secrets, the sandbox Talkdesk), once.

Runs without Django settings (it creates what they read): `python -m dashboard.demo_env .env`.
An existing file is left alone, so the demo keeps its secrets and tokens across runs.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

SANDBOX_URL = "http://127.0.0.1:8001"


def demo_env() -> str:
    return "\n".join(
        [
            "# Written by `make demo` for the local demo: SQLite and the sandbox Talkdesk.",
            "# Not for production; see .env.example for every variable.",
            "DEBUG=true",
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            f"TOKEN_ENCRYPTION_KEYS={Fernet.generate_key().decode()}",
            f"TALKDESK_AUTH_URL={SANDBOX_URL}",
            f"TALKDESK_API_URL={SANDBOX_URL}",
            "TALKDESK_CLIENT_ID=casebook-demo",
            "TALKDESK_CLIENT_SECRET=casebook-demo-secret",
            "TALKDESK_REDIRECT_URI=http://127.0.0.1:8000/talkdesk/callback/",
            "",
        ]
    )


def main(path: str) -> None:
    target = Path(path)
    if target.exists():
        print(f"{target} exists; keeping it.")
        return
    target.write_text(demo_env())
    target.chmod(0o600)
    print(f"Wrote {target} for the demo (DEBUG, fresh secrets, sandbox Talkdesk).")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".env")
