"""Which hosts Casebook may call: Talkdesk's regional hosts, and the rule for configured URLs.

The Talkdesk ID (OAuth) host is built from the customer's account name, so the account name is
validated before it becomes part of a host name (RFC 9700 §4.11: no open redirectors, no SSRF).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# region → (Talkdesk ID host suffix, API base URL). talkdesk-api.md §1 and §6.1; the AU API host is
# only attested in third-party code (§8.13), so an AU deployment may need TALKDESK_API_URL.
REGIONS: dict[str, tuple[str, str]] = {
    "us": (".talkdeskid.com", "https://api.talkdeskapp.com"),
    "eu": (".talkdeskid.eu", "https://api.talkdeskapp.eu"),
    "ca": (".talkdeskidca.com", "https://api.talkdeskappca.com"),
    "au": (".talkdeskid.au", "https://api.talkdeskapp.au"),
}

ACCOUNT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def derive_urls(account: str, region: str) -> tuple[str, str]:
    """Return (Talkdesk ID base URL, API base URL) for an account name and a region code.

    Letter case is ignored (host names are case-insensitive); anything else outside
    `^[a-z0-9][a-z0-9-]{0,62}$`, or a region not in REGIONS, raises ValueError.
    """
    account_name = account.strip().lower()
    region_code = region.strip().lower()
    if not ACCOUNT_NAME.fullmatch(account_name):
        raise ValueError(
            f"The Talkdesk account name {account!r} is not valid: use the part before "
            "'.talkdeskid.com' (letters, digits and hyphens, starting with a letter or digit, "
            "at most 63 characters)."
        )
    if region_code not in REGIONS:
        raise ValueError(
            f"The Talkdesk region {region!r} is not known: use one of {', '.join(REGIONS)}."
        )
    auth_suffix, api_url = REGIONS[region_code]
    return f"https://{account_name}{auth_suffix}", api_url


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is localhost, 127.0.0.0/8 or ::1."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, name: str) -> str:
    """Return `url` without a trailing slash, or raise ValueError naming the setting `name`.

    Accepted: https:// with a host, or http:// on a loopback host (the sandbox). Rejected: other
    schemes, credentials in the URL, a query string or a fragment (they would be silently
    combined with every request built from it). Messages never repeat the URL, which might
    carry a password.
    """
    stripped = url.strip()
    if any(char.isspace() or ord(char) < 0x20 for char in stripped):
        raise ValueError(f"{name} must not contain spaces or control characters.")
    try:
        parts = urlsplit(stripped)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"{name} is not a valid URL.") from exc
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{name} must not contain a user name or password.")
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"{name} must be an https:// URL with a host name.")
    if parts.scheme == "http" and not is_loopback_url(stripped):
        raise ValueError(
            f"{name} must use https:// (plain http:// is allowed only for localhost, "
            f"127.0.0.0/8 and ::1), not http://{parts.hostname}."
        )
    if parts.query or parts.fragment or stripped.endswith(("?", "#")):
        raise ValueError(f"{name} must not have a query string or fragment.")
    return stripped.rstrip("/")
