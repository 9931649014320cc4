"""The Talkdesk API client: one method per endpoint Casebook uses."""

from __future__ import annotations

from functools import cache
from typing import Any, Protocol

from .errors import InvalidParameters, Unauthorized
from .hosts import check_base_url
from .models import (
    Case,
    CaseField,
    CasePage,
    Me,
    User,
    UserPage,
    parse_case,
    parse_case_fields,
    parse_case_page,
    parse_me,
    parse_user_page,
)
from .params import CASE_ID, ArrayEncoding, CaseQuery, encode_case_query
from .transport import Transport

# The scope each endpoint needs (talkdesk-api.md §5, §6.6); a 403 names it.
SCOPE_CASES = "cases-public:read"
SCOPE_CASE_FIELDS = "case-fields-public:read"
SCOPE_USERS = "users:read"
SCOPE_ME = "openid"

USERS_PER_PAGE_MAX = 200


class TokenSource(Protocol):
    def access_token(self) -> str:
        """A currently valid access token."""
        ...

    def refresh_after_unauthorized(self, rejected: str) -> str:
        """A new token after Talkdesk refused `rejected`; raises ReconnectRequired if none."""
        ...


class _FixedToken:
    """A bare access token: nothing to refresh it with, so a 401 is final (the client
    re-raises Talkdesk's own 401 rather than asking this source)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        raise Unauthorized("Talkdesk did not accept the access token, and it cannot be renewed.")


@cache
def default_transport() -> Transport:
    """The process-wide transport used when a client is given none (it is thread-safe)."""
    return Transport()


class TalkdeskClient:
    """Talkdesk's Case, Users and userinfo endpoints as typed calls.

    On an upstream 401 the token source is asked once for a new token and the call is made
    once more; a second 401 raises Unauthorized.
    """

    def __init__(
        self,
        api_url: str,
        tokens: TokenSource | str,
        *,
        transport: Transport | None = None,
        array_encoding: ArrayEncoding = ArrayEncoding.JSON,
    ) -> None:
        self.api_url = check_base_url(api_url, name="TALKDESK_API_URL")
        self._tokens: TokenSource = _FixedToken(tokens) if isinstance(tokens, str) else tokens
        self._transport = transport or default_transport()
        self.array_encoding = ArrayEncoding(array_encoding)

    def list_cases(self, query: CaseQuery) -> CasePage:
        params = encode_case_query(query, self.array_encoding)
        return parse_case_page(self._get("/cm/core/va/cases", params, SCOPE_CASES))

    def get_case(self, case_id: str) -> Case:
        # Checked before it becomes part of the path: no "../" or "?" can ride along.
        if not CASE_ID.fullmatch(case_id):
            raise InvalidParameters(field_errors=(("id", "a case number has only digits"),))
        return parse_case(self._get(f"/cm/core/va/cases/{case_id}", [], SCOPE_CASES))

    def list_case_fields(self) -> tuple[CaseField, ...]:
        return parse_case_fields(self._get("/cm/meta/va/fields", [], SCOPE_CASE_FIELDS))

    def list_users(
        self,
        *,
        page: int = 1,
        per_page: int = USERS_PER_PAGE_MAX,
        active: bool | None = None,
        email: str = "",
    ) -> UserPage:
        if page < 1 or not 1 <= per_page <= USERS_PER_PAGE_MAX:
            raise ValueError(f"page must be at least 1 and per_page 1 to {USERS_PER_PAGE_MAX}.")
        params = [("page", str(page)), ("per_page", str(per_page))]
        if active is not None:
            params.append(("active", "true" if active else "false"))
        if email:
            params.append(("email", email))
        return parse_user_page(self._get("/users", params, SCOPE_USERS))

    def all_users(self, *, max_pages: int = 20) -> tuple[User, ...]:
        """Every user, page by page (pages computed from page/per_page/total, not _links)."""
        users: list[User] = []
        for page_number in range(1, max_pages + 1):
            page = self.list_users(page=page_number)
            users.extend(page.users)
            if not page.users or not page.has_next:
                break
        return tuple(users)

    def me(self) -> Me:
        return parse_me(self._get("/users/me", [], SCOPE_ME))

    def _get(self, path: str, params: list[tuple[str, str]], scope: str) -> Any:
        url = f"{self.api_url}{path}"
        token = self._tokens.access_token()
        try:
            return self._transport.get_json(url, params, token, required_scope=scope)
        except Unauthorized:
            if isinstance(self._tokens, _FixedToken):
                raise  # Talkdesk's own answer (status, code) says more than "cannot renew"
        # Refreshed outside the handler, so a refresh failure does not chain to the first 401.
        fresh = self._tokens.refresh_after_unauthorized(token)
        return self._transport.get_json(url, params, fresh, required_scope=scope)
