"""The real client against the sandbox Talkdesk over HTTP (DESIGN §3, habit 8)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dashboard.sandbox.server import Sandbox
from dashboard.talkdesk import (
    BadResponse,
    Case,
    CaseQuery,
    CustomFieldFilter,
    DateRange,
    Forbidden,
    InvalidParameters,
    NotFound,
    OAuthClientConfig,
    RateLimited,
    ReconnectRequired,
    TalkdeskClient,
    TalkdeskError,
    TokenSet,
    Transport,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
    authorization_url,
    encode_case_query,
    exchange_code,
    new_pkce_pair,
    new_state,
    refresh_tokens,
)
from dashboard.talkdesk.models import parse_token_response
from dashboard.talkdesk.params import ArrayEncoding

REDIRECT_URI = "http://localhost:8000/talkdesk/callback/"
ALL_SCOPES = ("openid", "refresh_token", "cases-public:read", "case-fields-public:read",
              "users:read")  # fmt: skip


@pytest.fixture
def api(sandbox_requests: Sandbox) -> Iterator[Transport]:
    with Transport() as transport:
        yield transport


def tokens_from(sandbox: Sandbox, scopes: tuple[str, ...] = ALL_SCOPES) -> TokenSet:
    return parse_token_response(sandbox.issue_tokens(scopes=scopes), now=datetime.now(UTC))


def oauth_config(sandbox: Sandbox, *, secret: str | None = None) -> OAuthClientConfig:
    return OAuthClientConfig(
        auth_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=secret or sandbox.client_secret,
        redirect_uri=REDIRECT_URI,
        scopes=ALL_SCOPES,
    )


def client_of(
    sandbox: Sandbox, transport: Transport, encoding: ArrayEncoding = ArrayEncoding.JSON
) -> TalkdeskClient:
    return TalkdeskClient(
        sandbox.base_url,
        tokens_from(sandbox).access_token,
        transport=transport,
        array_encoding=encoding,
    )


def api_requests(sandbox: Sandbox) -> list[Any]:
    return [seen for seen in sandbox.requests if not seen.path.startswith("/oauth/")]


# --- every parameter, every encoding -------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A query built from the sandbox's data, and what every case it returns must satisfy."""

    query: Callable[[Sandbox], CaseQuery]
    holds: Callable[[Sandbox, Case], bool]
    selective: bool = True


def sandbox_case(sandbox: Sandbox, case: Case) -> Any:
    found = sandbox.data.case(case.id)
    assert found is not None
    return found


def agent(sandbox: Sandbox) -> Any:
    return sandbox.data.cases[0].agent or sandbox.data.agents[0]


def requester_with_phone(sandbox: Sandbox) -> Any:
    return next(c.requester for c in sandbox.data.cases if (c.requester.phone or "")[:1] == "+")


def requester_with_email(sandbox: Sandbox) -> Any:
    return next(c.requester for c in sandbox.data.cases if c.requester.email)


def days_ago(sandbox: Sandbox, days: int) -> datetime:
    return sandbox.data.now - timedelta(days=days)


FILTERS: dict[str, Filter] = {
    "ids": Filter(
        lambda s: CaseQuery(ids=("5", "17", "123")),
        lambda s, c: c.id in {"5", "17", "123"},
    ),
    "agent_id": Filter(
        lambda s: CaseQuery(agent_id=agent(s).id), lambda s, c: c.agent_id == agent(s).id
    ),
    "agent_name": Filter(
        lambda s: CaseQuery(agent_name=agent(s).name),
        lambda s, c: agent(s).name.lower() in c.agent_name.lower(),
    ),
    "agent_email": Filter(
        lambda s: CaseQuery(agent_email=agent(s).email), lambda s, c: c.agent_id == agent(s).id
    ),
    "requester_type": Filter(
        lambda s: CaseQuery(requester_type="agents"),
        lambda s, c: sandbox_case(s, c).requester.type == "AGENT",
    ),
    "requester_id": Filter(
        lambda s: CaseQuery(requester_id=s.data.cases[0].requester.id),
        lambda s, c: c.requester_id == s.data.cases[0].requester.id,
    ),
    "requester_name": Filter(
        lambda s: CaseQuery(requester_name=s.data.cases[1].requester.name),
        lambda s, c: s.data.cases[1].requester.name.lower() in c.requester_name.lower(),
    ),
    "requester_email": Filter(
        lambda s: CaseQuery(requester_email=requester_with_email(s).email),
        lambda s, c: requester_with_email(s).email.lower() in c.requester_email.lower(),
    ),
    # A leading "+" arrives as a space unless the client sends %2B: then nothing would match.
    "requester_phone": Filter(
        lambda s: CaseQuery(requester_phone=requester_with_phone(s).phone),
        lambda s, c: requester_with_phone(s).phone in c.requester_phone,
    ),
    "title": Filter(lambda s: CaseQuery(title="refund"), lambda s, c: "refund" in c.title.lower()),
    "description": Filter(
        lambda s: CaseQuery(description="order"), lambda s, c: "order" in c.description.lower()
    ),
    "status": Filter(
        lambda s: CaseQuery(status=("Open", "ON_HOLD")),
        lambda s, c: c.status in {"OPEN", "ON_HOLD"},
    ),
    "priority": Filter(
        lambda s: CaseQuery(priority=("HIGH", "urgent")),
        lambda s, c: c.priority in {"HIGH", "URGENT"},
    ),
    "type": Filter(
        lambda s: CaseQuery(type=("QUESTION", "TASK")), lambda s, c: c.type in {"QUESTION", "TASK"}
    ),
    "about": Filter(
        lambda s: CaseQuery(about=("Shipping & delivery", "Refunds")),
        lambda s, c: c.about in {"Shipping & delivery", "Refunds"},
    ),
    "create_at": Filter(
        lambda s: CaseQuery(create_at=DateRange(days_ago(s, 60), days_ago(s, 30))),
        lambda s, c: (
            c.create_at is not None
            and days_ago(s, 60) - timedelta(seconds=1) <= c.create_at <= days_ago(s, 30)
        ),
    ),
    "update_at": Filter(
        lambda s: CaseQuery(update_at=DateRange(start=days_ago(s, 7))),
        lambda s, c: (
            c.update_at is not None and c.update_at >= days_ago(s, 7) - timedelta(seconds=1)
        ),
    ),
    "update_at (open start)": Filter(
        lambda s: CaseQuery(update_at=DateRange(end=days_ago(s, 90))),
        lambda s, c: c.update_at is not None and c.update_at <= days_ago(s, 90),
    ),
    "order_by": Filter(
        lambda s: CaseQuery(order_by="update_at", per_page=100),
        lambda s, c: True,
        selective=False,
    ),
    "sort": Filter(
        lambda s: CaseQuery(sort="asc", per_page=100), lambda s, c: True, selective=False
    ),
    "custom_fields": Filter(
        lambda s: CaseQuery(
            custom_fields=(
                CustomFieldFilter("checkbox1", True),
                CustomFieldFilter("multi_select1", ("001", "002")),
            )
        ),
        lambda s, c: (
            getattr(c.custom_field("checkbox1"), "value", None) is True
            and bool({"001", "002"} & set(getattr(c.custom_field("multi_select1"), "value", ())))
        ),
    ),
}


@pytest.mark.parametrize("name", FILTERS)
def test_each_parameter_reaches_the_sandbox_in_all_three_encodings_with_one_meaning(
    sandbox_requests: Sandbox, api: Transport, name: str
) -> None:
    sandbox = sandbox_requests
    check = FILTERS[name]
    query = check.query(sandbox)
    everything = client_of(sandbox, api).list_cases(CaseQuery(per_page=1)).total
    totals = set()
    for encoding in ArrayEncoding:
        sandbox.clear_requests()
        page = client_of(sandbox, api, encoding).list_cases(query)
        (seen,) = sandbox.requests
        assert seen.status == 200
        assert seen.query == encode_case_query(query, encoding)
        assert "+" not in seen.raw_query
        assert page.cases, f"{name} in {encoding} matched nothing"
        for case in page.cases:
            assert check.holds(sandbox, case), f"{name} in {encoding}: case {case.id}"
        totals.add(page.total)
    assert len(totals) == 1, f"{name}: the encodings disagree: {totals}"
    if check.selective:
        assert totals.pop() < everything


@pytest.mark.parametrize("encoding", list(ArrayEncoding))
def test_paging_returns_the_asked_page_and_size(
    sandbox_requests: Sandbox, api: Transport, encoding: ArrayEncoding
) -> None:
    client = client_of(sandbox_requests, api, encoding)
    second = client.list_cases(CaseQuery(page=2, per_page=7, status=("RESOLVED",)))
    assert (second.page, second.per_page, len(second.cases)) == (2, 7, 7)
    assert (second.first_index, second.last_index) == (8, 14)
    resolved = sum(1 for case in sandbox_requests.data.cases if case.status == "RESOLVED")
    assert second.total == resolved
    assert second.page_count == -(-resolved // 7)
    first_page = client.list_cases(CaseQuery(page=1, per_page=14, status=("RESOLVED",)))
    assert [c.id for c in first_page.cases[7:]] == [c.id for c in second.cases]


def test_ordering_follows_order_by_and_sort(sandbox_requests: Sandbox, api: Transport) -> None:
    client = client_of(sandbox_requests, api)
    ascending = client.list_cases(CaseQuery(order_by="update_at", sort="ASC", per_page=50))
    moments = [case.update_at for case in ascending.cases]
    assert moments == sorted(moments)  # type: ignore[type-var]
    newest_first = client.list_cases(CaseQuery(per_page=50))
    created = [case.create_at for case in newest_first.cases]
    assert created == sorted(created, reverse=True)  # type: ignore[type-var]


def test_every_case_in_the_sandbox_parses(sandbox_requests: Sandbox, api: Transport) -> None:
    client = client_of(sandbox_requests, api)
    count = len(sandbox_requests.data.cases)
    seen = 0
    for number in range(1, -(-count // 500) + 1):
        page = client.list_cases(CaseQuery(page=number, per_page=500))
        seen += len(page.cases)
    assert seen == count


def test_a_case_detail_parses_and_agrees_with_its_list_row(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    client = client_of(sandbox_requests, api)
    listed = client.list_cases(CaseQuery(ids=("42",))).cases[0]
    detail = client.get_case("42")
    assert detail.id == listed.id == "42"
    assert (detail.status, detail.priority, detail.title) == (
        listed.status,
        listed.priority,
        listed.title,
    )
    assert detail.custom_fields == listed.custom_fields
    assert detail.notes == listed.notes
    assert detail.create_at == listed.create_at


def test_case_fields_users_and_me_parse(sandbox_requests: Sandbox, api: Transport) -> None:
    sandbox = sandbox_requests
    tokens = parse_token_response(
        sandbox.issue_tokens(user_id=sandbox.data.agents[1].id), now=datetime.now(UTC)
    )
    client = TalkdeskClient(sandbox.base_url, tokens.access_token, transport=api)
    fields = client.list_case_fields()
    assert {field.key: field.kind for field in fields}["dropdown1"] == "dropdown"
    assert all(field.kind != "other" for field in fields)
    dropdown = next(field for field in fields if field.key == "dropdown1")
    assert dropdown.options[0].key == "001"
    users = client.all_users()
    assert [user.id for user in users] == [agent.id for agent in sandbox.data.agents]
    me = client.me()
    assert (me.id, me.name) == (sandbox.data.agents[1].id, sandbox.data.agents[1].name)


def test_links_in_the_answer_are_never_fetched(sandbox_requests: Sandbox, api: Transport) -> None:
    page = client_of(sandbox_requests, api).list_cases(CaseQuery(per_page=5))
    assert page.has_next
    assert len(sandbox_requests.requests) == 1
    client_of(sandbox_requests, api).all_users()
    user_pages = [parse_qs(seen.raw_query)["page"] for seen in api_requests(sandbox_requests)[1:]]
    assert user_pages == [["1"]]  # one page holds them all, whatever _links.next says


# --- errors --------------------------------------------------------------------------------------


def test_a_rejected_filter_is_invalid_parameters_naming_the_field(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    query = CaseQuery(custom_fields=(CustomFieldFilter("nope1", True),))
    with pytest.raises(InvalidParameters) as caught:
        client_of(sandbox_requests, api).list_cases(query)
    assert caught.value.status == 400
    assert caught.value.code == "1520005"
    assert [name for name, _ in caught.value.field_errors] == ["custom_fields"]
    assert "custom_fields: unknown custom field key" in caught.value.message


def test_an_expired_token_is_unauthorized(sandbox_requests: Sandbox, api: Transport) -> None:
    client = client_of(sandbox_requests, api)
    sandbox_requests.expire_access_tokens()
    with pytest.raises(Unauthorized) as caught:
        client.list_cases(CaseQuery())
    assert caught.value.status == 401
    assert caught.value.code == "1520006"


@pytest.mark.parametrize(
    ("call", "scope"),
    [
        (lambda c: c.list_cases(CaseQuery()), "cases-public:read"),
        (lambda c: c.get_case("1"), "cases-public:read"),
        (lambda c: c.list_case_fields(), "case-fields-public:read"),
        (lambda c: c.list_users(), "users:read"),
        (lambda c: c.me(), "openid"),
    ],
)
def test_a_token_without_the_scope_is_forbidden_naming_it(
    sandbox_requests: Sandbox, api: Transport, call: Any, scope: str
) -> None:
    without = tuple(s for s in ALL_SCOPES if s != scope)
    client = TalkdeskClient(
        sandbox_requests.base_url, tokens_from(sandbox_requests, without).access_token,
        transport=api,
    )  # fmt: skip
    with pytest.raises(Forbidden) as caught:
        call(client)
    assert caught.value.missing_scope == scope
    assert f"“{scope}”" in caught.value.message


def test_an_unknown_case_is_not_found(sandbox_requests: Sandbox, api: Transport) -> None:
    with pytest.raises(NotFound) as caught:
        client_of(sandbox_requests, api).get_case("99999999")
    assert caught.value.code == "1520008"


@pytest.mark.parametrize(
    ("kind", "count", "error_class", "message", "attempts"),
    [
        ("500", 1, UpstreamError, "Talkdesk is having trouble right now (HTTP 500)", 1),
        ("502", 2, UpstreamError, "Talkdesk is having trouble right now (HTTP 502)", 2),
        ("503", 2, RateLimited, "Talkdesk is temporarily unavailable. Retry in 1 s.", 2),
        ("429", 2, RateLimited, "Talkdesk is receiving too many requests. Retry in 1 s.", 2),
        ("malformed", 1, BadResponse, "could not read (it is not JSON)", 1),
    ],
)
def test_each_upstream_failure_becomes_its_error_after_at_most_one_retry(
    sandbox_requests: Sandbox,
    api: Transport,
    kind: str,
    count: int,
    error_class: type[TalkdeskError],
    message: str,
    attempts: int,
) -> None:
    client = client_of(sandbox_requests, api)
    sandbox_requests.fail_next(count, kind, path_prefix="/cm/")
    with pytest.raises(error_class) as caught:
        client.list_cases(CaseQuery())
    assert type(caught.value) is error_class
    assert message in caught.value.message
    assert "<html>" not in caught.value.message
    assert len(api_requests(sandbox_requests)) == attempts


@pytest.mark.parametrize("kind", ["502", "503", "429"])
def test_one_passing_failure_is_retried_and_the_call_succeeds(
    sandbox_requests: Sandbox, api: Transport, kind: str
) -> None:
    client = client_of(sandbox_requests, api)
    sandbox_requests.fail_next(1, kind, retry_after=1, path_prefix="/cm/")
    started = time.monotonic()
    page = client.list_cases(CaseQuery(per_page=3))
    assert len(page.cases) == 3
    assert [seen.status for seen in api_requests(sandbox_requests)] == [int(kind), 200]
    if kind in {"503", "429"}:
        assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("kind", ["429", "503"])
def test_a_long_retry_after_is_rate_limited_within_3_seconds(
    sandbox_requests: Sandbox, api: Transport, kind: str
) -> None:
    client = client_of(sandbox_requests, api)
    sandbox_requests.fail_next(1, kind, retry_after=3600, path_prefix="/cm/")
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        client.list_cases(CaseQuery())
    assert time.monotonic() - started < 3
    assert caught.value.retry_after == 3600
    assert "Retry in 3600 s" in caught.value.message
    assert len(api_requests(sandbox_requests)) == 1


def test_a_stalled_read_is_a_timeout_within_the_budget(sandbox_requests: Sandbox) -> None:
    sandbox_requests.fail_next(1, "delay", delay=3.0, path_prefix="/cm/")
    with Transport(read_timeout=1.0, budget=2.0) as transport:
        client = client_of(sandbox_requests, transport)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            client.list_cases(CaseQuery())
        assert time.monotonic() - started < 2.0 + 0.5
    # The sandbox logs the request once its delay is over; wait, so no later test sees it.
    deadline = time.monotonic() + 5
    while not api_requests(sandbox_requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(api_requests(sandbox_requests)) == 1


# --- tokens ----------------------------------------------------------------------------------


class RefreshingTokens:
    """A minimal TokenSource: what the lead's Django connection does, without the database."""

    def __init__(self, config: OAuthClientConfig, transport: Transport, tokens: TokenSet):
        self.config, self.transport, self.tokens = config, transport, tokens
        self.refreshes: list[str] = []

    def access_token(self) -> str:
        return self.tokens.access_token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        self.refreshes.append(rejected)
        assert self.tokens.refresh_token is not None
        self.tokens = refresh_tokens(
            self.config, self.transport, refresh_token=self.tokens.refresh_token
        )
        return self.tokens.access_token


def test_an_upstream_401_means_exactly_one_refresh_and_one_retry(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    sandbox = sandbox_requests
    tokens = RefreshingTokens(oauth_config(sandbox), api, tokens_from(sandbox))
    first_token = tokens.access_token()
    sandbox.expire_access_tokens()
    page = TalkdeskClient(sandbox.base_url, tokens, transport=api).list_cases(CaseQuery())
    assert page.cases
    assert tokens.refreshes == [first_token]
    assert [(seen.method, seen.path, seen.status) for seen in sandbox.requests] == [
        ("GET", "/cm/core/va/cases", 401),
        ("POST", "/oauth/token", 200),
        ("GET", "/cm/core/va/cases", 200),
    ]


def test_a_revoked_refresh_token_ends_in_reconnect_after_one_token_call(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    sandbox = sandbox_requests
    tokens = RefreshingTokens(oauth_config(sandbox), api, tokens_from(sandbox))
    sandbox.expire_access_tokens()
    sandbox.revoke_refresh_tokens()
    with pytest.raises(ReconnectRequired):
        TalkdeskClient(sandbox.base_url, tokens, transport=api).me()
    assert [seen.path for seen in sandbox.requests] == ["/users/me", "/oauth/token"]


def complete_authorization(sandbox: Sandbox, url: str, *, approve: bool = True) -> dict[str, str]:
    """Play the person at the consent page; return the callback's query parameters."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    with requests.Session() as browser:
        consent = browser.get(url, allow_redirects=False, timeout=5)
        assert consent.status_code == 200
        decision = browser.post(
            f"{sandbox.base_url}/oauth/authorize",
            data={
                **query,
                "decision": "approve" if approve else "deny",
                "user_id": sandbox.data.agents[2].id,
            },
            allow_redirects=False,
            timeout=5,
        )
    assert decision.status_code == 302
    location = decision.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_the_authorization_code_flow_with_pkce_yields_working_tokens(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    sandbox = sandbox_requests
    config = oauth_config(sandbox)
    state = new_state()
    verifier, challenge = new_pkce_pair()
    callback = complete_authorization(
        sandbox, authorization_url(config, state=state, code_challenge=challenge)
    )
    assert callback["state"] == state
    before = datetime.now(UTC)
    tokens = exchange_code(config, api, code=callback["code"], code_verifier=verifier)
    assert tokens.refresh_token
    assert tokens.id_token
    assert set(tokens.scopes) == set(ALL_SCOPES)
    assert before + timedelta(seconds=590) <= tokens.expires_at <= before + timedelta(seconds=610)
    token_call = sandbox.requests[-1]
    assert token_call.form == {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    assert token_call.headers["authorization"].startswith("Basic ")
    me = TalkdeskClient(sandbox.base_url, tokens.access_token, transport=api).me()
    assert me.id == sandbox.data.agents[2].id
    with pytest.raises(ReconnectRequired):  # a code is single-use
        exchange_code(config, api, code=callback["code"], code_verifier=verifier)


def test_a_code_with_the_wrong_verifier_is_refused(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    config = oauth_config(sandbox_requests)
    _, challenge = new_pkce_pair()
    callback = complete_authorization(
        sandbox_requests, authorization_url(config, state=new_state(), code_challenge=challenge)
    )
    with pytest.raises(ReconnectRequired):
        exchange_code(config, api, code=callback["code"], code_verifier=new_pkce_pair()[0])


def test_denied_consent_comes_back_as_an_error_with_the_state(sandbox_requests: Sandbox) -> None:
    config = oauth_config(sandbox_requests)
    state = new_state()
    url = authorization_url(config, state=state, code_challenge=new_pkce_pair()[1])
    callback = complete_authorization(sandbox_requests, url, approve=False)
    assert callback == {
        "error": "access_denied",
        "error_description": "The user denied access",
        "state": state,
    }


def test_a_refresh_rotates_the_refresh_token_and_sends_nothing_else(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    sandbox = sandbox_requests
    config = oauth_config(sandbox)
    old = tokens_from(sandbox)
    assert old.refresh_token is not None
    fresh = refresh_tokens(config, api, refresh_token=old.refresh_token)
    assert fresh.refresh_token not in {None, old.refresh_token}
    assert fresh.access_token != old.access_token
    (token_call,) = sandbox.requests
    assert token_call.form == {"grant_type": "refresh_token", "refresh_token": old.refresh_token}
    assert TalkdeskClient(sandbox.base_url, fresh.access_token, transport=api).me().id
    with pytest.raises(ReconnectRequired):  # the old refresh token was spent
        refresh_tokens(config, api, refresh_token=old.refresh_token)


def test_wrong_client_credentials_are_reported_as_such(
    sandbox_requests: Sandbox, api: Transport
) -> None:
    config = oauth_config(sandbox_requests, secret="not-the-secret")
    refresh_token = tokens_from(sandbox_requests).refresh_token
    assert refresh_token is not None
    with pytest.raises(Unauthorized) as caught:
        refresh_tokens(config, api, refresh_token=refresh_token)
    assert type(caught.value) is Unauthorized
    assert "client credentials" in caught.value.message
    assert "not-the-secret" not in caught.value.message
