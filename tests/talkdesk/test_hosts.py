from __future__ import annotations

import pytest

from dashboard.talkdesk import REGIONS, check_base_url, derive_urls, is_loopback_url


@pytest.mark.parametrize(
    ("region", "auth_url", "api_url"),
    [
        ("us", "https://acme.talkdeskid.com", "https://api.talkdeskapp.com"),
        ("eu", "https://acme.talkdeskid.eu", "https://api.talkdeskapp.eu"),
        ("ca", "https://acme.talkdeskidca.com", "https://api.talkdeskappca.com"),
        ("au", "https://acme.talkdeskid.au", "https://api.talkdeskapp.au"),
    ],
)
def test_each_region_derives_its_talkdesk_id_and_api_hosts(
    region: str, auth_url: str, api_url: str
) -> None:
    assert derive_urls("acme", region) == (auth_url, api_url)


def test_regions_cover_exactly_the_documented_four() -> None:
    assert set(REGIONS) == {"us", "eu", "ca", "au"}


def test_account_and_region_letter_case_is_ignored() -> None:
    assert derive_urls("Acme-Support", "EU") == (
        "https://acme-support.talkdeskid.eu",
        "https://api.talkdeskapp.eu",
    )


@pytest.mark.parametrize(
    "account",
    [
        "",
        "-acme",
        "acme.evil.com",
        "evil.com/x",
        "acme@evil",
        "ac me",
        "a" * 64,
        "acme_support",
        "ac\nme",
        "ácme",
    ],
)
def test_an_account_name_that_is_not_a_plain_subdomain_label_is_refused(account: str) -> None:
    with pytest.raises(ValueError, match="account name"):
        derive_urls(account, "us")


def test_the_longest_valid_account_name_is_63_characters() -> None:
    assert derive_urls("a" * 63, "us")[0] == f"https://{'a' * 63}.talkdeskid.com"


def test_an_unknown_region_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(ValueError, match="us, eu, ca, au"):
        derive_urls("acme", "uk")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.talkdeskapp.com", "https://api.talkdeskapp.com"),
        ("https://api.talkdeskapp.com/", "https://api.talkdeskapp.com"),
        ("https://gateway.example/talkdesk/", "https://gateway.example/talkdesk"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.45.6.7", "http://127.45.6.7"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("  https://acme.talkdeskid.com  ", "https://acme.talkdeskid.com"),
    ],
)
def test_https_urls_and_loopback_http_urls_are_accepted_without_trailing_slash(
    url: str, expected: str
) -> None:
    assert check_base_url(url, name="TALKDESK_API_URL") == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://api.talkdeskapp.com", "https://"),
        ("http://10.0.0.1", "https://"),
        ("http://localhost.evil.com", "https://"),
        ("http://127.0.0.1.nip.io", "https://"),
        ("ftp://api.talkdeskapp.com", "https://"),
        ("api.talkdeskapp.com", "https://"),
        ("https://", "host"),
        ("https://api.talkdeskapp.com?x=1", "query"),
        ("https://api.talkdeskapp.com/?", "query"),
        ("https://api.talkdeskapp.com#top", "fragment"),
        ("https://user@api.talkdeskapp.com", "user name or password"),
        ("https://api.talkdeskapp.com:notaport", "not a valid URL"),
        ("https://api.talk deskapp.com", "spaces"),
    ],
)
def test_other_urls_are_refused_with_a_message_naming_the_setting(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="TALKDESK_API_URL") as caught:
        check_base_url(url, name="TALKDESK_API_URL")
    assert problem in str(caught.value)


def test_a_refused_url_with_a_password_does_not_repeat_the_password() -> None:
    with pytest.raises(ValueError) as caught:
        check_base_url("http://admin:hunter2@example.com", name="TALKDESK_AUTH_URL")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost", True),
        ("http://LOCALHOST:80/x", True),
        ("http://127.0.0.1:1", True),
        ("http://127.255.255.254", True),
        ("http://[::1]/", True),
        ("http://128.0.0.1", False),
        ("http://localhost.example.com", False),
        ("http://[::2]", False),
        ("https://api.talkdeskapp.com", False),
        ("not a url", False),
        ("http://[::1", False),
    ],
)
def test_loopback_means_localhost_127_slash_8_and_ipv6_one(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
