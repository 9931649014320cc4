"""The client over a scripted server: token handling, paths, scopes and paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from dashboard.talkdesk import (
    CaseQuery,
    Forbidden,
    InvalidParameters,
    ReconnectRequired,
    TalkdeskClient,
    Transport,
    Unauthorized,
)

from .conftest import Reply, StubServer

UNAUTHORIZED = Reply(status=401, body={"code": "1520006", "message": "Unauthorized."})
EMPTY_PAGE = {"total": 0, "count": 0, "page": 1, "per_page": 50, "_embedded": {"data": []}}


class RecordingTokens:
    """A token source that hands out token-1, then token-2, … on each refresh."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.current = "token-1"
        self.refreshed_after: list[str] = []
        self.refuse = refuse

    def access_token(self) -> str:
        return self.current

    def refresh_after_unauthorized(self, rejected: str) -> str:
        self.refreshed_after.append(rejected)
        if self.refuse:
            raise ReconnectRequired()
        self.current = f"token-{len(self.refreshed_after) + 1}"
        return self.current


def bearer_tokens(stub: StubServer) -> list[str]:
    return [seen.headers["Authorization"].removeprefix("Bearer ") for seen in stub.requests]


def test_an_upstream_401_refreshes_once_and_retries_once(
    transport: Transport, stub: StubServer
) -> None:
    tokens = RecordingTokens()
    stub.reply(UNAUTHORIZED, Reply(body=EMPTY_PAGE))
    page = TalkdeskClient(stub.url, tokens, transport=transport).list_cases(CaseQuery())
    assert page.total == 0
    assert tokens.refreshed_after == ["token-1"]
    assert bearer_tokens(stub) == ["token-1", "token-2"]


def test_a_second_401_is_unauthorized_without_another_refresh(
    transport: Transport, stub: StubServer
) -> None:
    tokens = RecordingTokens()
    stub.reply(UNAUTHORIZED, UNAUTHORIZED, Reply(body=EMPTY_PAGE))
    with pytest.raises(Unauthorized):
        TalkdeskClient(stub.url, tokens, transport=transport).me()
    assert tokens.refreshed_after == ["token-1"]
    assert len(stub.requests) == 2


def test_a_refused_refresh_ends_the_call_with_reconnect_required(
    transport: Transport, stub: StubServer
) -> None:
    tokens = RecordingTokens(refuse=True)
    stub.reply(UNAUTHORIZED)
    with pytest.raises(ReconnectRequired) as caught:
        TalkdeskClient(stub.url, tokens, transport=transport).list_case_fields()
    assert caught.value.__context__ is None
    assert len(stub.requests) == 1


def test_a_bare_token_string_cannot_be_refreshed(transport: Transport, stub: StubServer) -> None:
    stub.reply(UNAUTHORIZED)
    with pytest.raises(Unauthorized) as caught:
        TalkdeskClient(stub.url, "plain-token", transport=transport).me()
    assert (caught.value.status, caught.value.code) == (401, "1520006")
    assert bearer_tokens(stub) == ["plain-token"]


@pytest.mark.parametrize(
    ("call", "path", "scope"),
    [
        (lambda c: c.list_cases(CaseQuery()), "/cm/core/va/cases", "cases-public:read"),
        (lambda c: c.get_case("42"), "/cm/core/va/cases/42", "cases-public:read"),
        (lambda c: c.list_case_fields(), "/cm/meta/va/fields", "case-fields-public:read"),
        (lambda c: c.list_users(), "/users", "users:read"),
        (lambda c: c.me(), "/users/me", "openid"),
    ],
)
def test_each_endpoint_has_its_path_and_a_403_names_its_scope(
    transport: Transport, stub: StubServer, call: Any, path: str, scope: str
) -> None:
    stub.reply(Reply(status=403, body={"code": "1520007", "message": "Forbidden."}))
    with pytest.raises(Forbidden) as caught:
        call(TalkdeskClient(f"{stub.url}/", "t", transport=transport))
    assert caught.value.missing_scope == scope
    assert scope in caught.value.message
    assert urlsplit(stub.requests[0].target).path == path


@pytest.mark.parametrize("case_id", ["", "abc", "1/../../users", "12?x=1", "12#", " 12", "١٢"])
def test_a_case_id_that_is_not_digits_is_refused_before_any_request(
    transport: Transport, stub: StubServer, case_id: str
) -> None:
    with pytest.raises(InvalidParameters):
        TalkdeskClient(stub.url, "t", transport=transport).get_case(case_id)
    assert stub.requests == []


def test_the_client_refuses_an_insecure_api_url() -> None:
    with pytest.raises(ValueError, match="TALKDESK_API_URL"):
        TalkdeskClient("http://api.talkdeskapp.com", "t")


def users_page(page: int, total: int, ids: list[str], next_href: str) -> dict[str, Any]:
    return {
        "total": total,
        "count": len(ids),
        "page": page,
        "per_page": 200,
        "_embedded": {"users": [{"id": i, "name": i, "email": f"{i}@x", "active": True}
                                for i in ids]},
        "_links": {"next": {"href": next_href}},
    }  # fmt: skip


def test_all_users_pages_by_total_and_never_follows_links(
    transport: Transport, stub: StubServer, foreign: StubServer
) -> None:
    first = [f"u{n}" for n in range(200)]
    stub.reply(
        Reply(body=users_page(1, 201, first, f"{foreign.url}/users?page=2")),
        Reply(body=users_page(2, 201, ["u200"], f"{foreign.url}/users?page=3")),
    )
    users = TalkdeskClient(stub.url, "t", transport=transport).all_users()
    assert [user.id for user in users] == [*first, "u200"]
    assert [dict(parse_qsl(urlsplit(s.target).query))["page"] for s in stub.requests] == ["1", "2"]
    assert foreign.requests == []


def test_all_users_stops_at_max_pages(transport: Transport, stub: StubServer) -> None:
    stub.reply(*[Reply(body=users_page(n, 10_000, [f"u{n}"], "")) for n in (1, 2, 3)])
    users = TalkdeskClient(stub.url, "t", transport=transport).all_users(max_pages=2)
    assert [user.id for user in users] == ["u1", "u2"]


def test_list_users_sends_its_filters(transport: Transport, stub: StubServer) -> None:
    stub.reply(Reply(body=users_page(2, 0, [], "")))
    TalkdeskClient(stub.url, "t", transport=transport).list_users(
        page=2, per_page=50, active=False, email="a+b@example.com"
    )
    assert parse_qsl(urlsplit(stub.requests[0].target).query) == [
        ("page", "2"),
        ("per_page", "50"),
        ("active", "false"),
        ("email", "a+b@example.com"),
    ]
    with pytest.raises(ValueError, match="per_page"):
        TalkdeskClient(stub.url, "t", transport=transport).list_users(per_page=201)


def test_a_case_list_with_a_link_to_a_foreign_host_does_not_call_it(
    transport: Transport, stub: StubServer, foreign: StubServer
) -> None:
    stub.reply(
        Reply(
            body={
                **EMPTY_PAGE,
                "total": 120,
                "_links": {
                    "self": {"href": f"{foreign.url}/cm/core/va/cases?page=1"},
                    "next": {"href": f"{foreign.url}/cm/core/va/cases?page=2"},
                },
            }
        )
    )
    page = TalkdeskClient(stub.url, "t", transport=transport).list_cases(CaseQuery())
    assert page.has_next
    assert foreign.requests == []
