from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.talkdesk import BadResponse, CasePage, FieldOption
from dashboard.talkdesk.models import (
    parse_case,
    parse_case_fields,
    parse_case_page,
    parse_me,
    parse_token_response,
    parse_user_page,
)

# talkdesk-api.md §3.3, the composed example of a list response.
ROW: dict[str, Any] = {
    "id": "20808",
    "title": "Refund not received",
    "description": "Customer reports the refund for order 991 has not arrived.",
    "requester_id": "634fa22b4838783b8320505c",
    "requester_name": "Dana Smith",
    "requester_email": "dana.smith@example.com",
    "requester_phone": "+15550100123",
    "requester_integration": {
        "integration_id": "",
        "external_id": "",
        "external_url": "",
        "contact_type": "",
        "external_sync_state": "",
    },
    "group_id": "billing",
    "group_name": "billing",
    "agent_id": "6322cd99760bbf5eaf74b499",
    "agent_name": "Lee Park",
    "form_name": "Default Case Form",
    "priority": "High",
    "status": "Open",
    "type": "Incident",
    "about": "Payments",
    "create_at": "2024-05-02T09:15:00Z",
    "update_at": "2024-05-03T14:40:12Z",
    "custom_fields": '{"checkbox1": {"label": true, "value": true, "name": "VIP"}}',
    "notes": [
        {"id": "10000001", "notes_title": "Called back", "notes_body": "Left voicemail.",
         "public": False}
    ],
}  # fmt: skip
MINIMAL_ROW: dict[str, Any] = {
    "id": "20807",
    "title": "Inbound call with +15550100999",
    "description": "call_answered Contact Phone: +15550100999",
    "requester_id": "62ff04ae644bcb001ebbca67",
    "requester_name": "Sam Roe",
    "requester_integration": {},
    "group_id": "agents",
    "status": "New",
    "create_at": "2024-05-02T08:01:44Z",
    "update_at": "2024-05-02T08:01:44Z",
}


def page_of(*rows: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {
        "total": 123,
        "count": len(rows),
        "page": 1,
        "per_page": 2,
        "_links": {"next": {"href": "https://evil.example/steal?page=2"}},
        "_embedded": {"data": list(rows)},
        **envelope,
    }


def row_with(**changes: Any) -> dict[str, Any]:
    row = copy.deepcopy(MINIMAL_ROW)
    for key, value in changes.items():
        if value is ...:
            row.pop(key, None)
        else:
            row[key] = value
    return row


def test_the_documented_list_example_parses_into_cases() -> None:
    page = parse_case_page(page_of(ROW, MINIMAL_ROW))
    assert (page.total, page.count, page.page, page.per_page) == (123, 2, 1, 2)
    first, second = page.cases
    assert first.id == "20808"
    assert (first.status, first.priority, first.type) == ("OPEN", "HIGH", "INCIDENT")
    assert (first.status_label, first.priority_label, first.type_label) == (
        "Open",
        "High",
        "Incident",
    )
    assert first.requester_phone == "+15550100123"
    assert first.agent_name == "Lee Park"
    assert first.create_at == datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    assert first.update_at == datetime(2024, 5, 3, 14, 40, 12, tzinfo=UTC)
    vip = first.custom_field("checkbox1")
    assert vip is not None
    assert (vip.name, vip.label, vip.value) == ("VIP", True, True)
    assert first.notes[0].title == "Called back"
    assert first.notes[0].body == "Left voicemail."
    assert first.notes[0].public is False
    assert second.agent_id == ""
    assert second.priority == ""
    assert second.priority_label == ""
    assert second.custom_fields == ()
    assert second.notes == ()


@pytest.mark.parametrize(
    ("spelling", "api_value", "label"),
    [
        ("On-hold", "ON_HOLD", "On-hold"),
        ("on hold", "ON_HOLD", "On-hold"),
        ("ON-HOLD", "ON_HOLD", "On-hold"),
        ("ON_HOLD", "ON_HOLD", "On-hold"),
        ("New", "NEW", "New"),
        ("waiting on customer", "WAITING_ON_CUSTOMER", "Waiting on customer"),
    ],
)
def test_status_spellings_normalise_and_unknown_ones_are_kept(
    spelling: str, api_value: str, label: str
) -> None:
    case = parse_case(row_with(status=spelling))
    assert case.status == api_value
    assert case.status_label == label


CUSTOM_FIELDS = {
    "text1": {"label": None, "value": "A line", "name": "Test Text"},
    "multi_select1": {"label": ["San Jose", "Cupertino"], "value": ["001", "002"]},
    "decimal1": {"label": None, "value": 1.2, "name": "Test Decimal"},
}


@pytest.mark.parametrize(
    "custom_fields",
    [CUSTOM_FIELDS, json.dumps(CUSTOM_FIELDS)],
    ids=["object", "json-string"],
)
def test_custom_fields_may_be_an_object_or_a_json_string(custom_fields: Any) -> None:
    case = parse_case(row_with(custom_fields=custom_fields))
    assert [field.key for field in case.custom_fields] == ["text1", "multi_select1", "decimal1"]
    multi = case.custom_field("multi_select1")
    assert multi is not None
    assert multi.value == ("001", "002")
    assert multi.label == ("San Jose", "Cupertino")
    assert multi.name == ""
    decimal = case.custom_field("decimal1")
    assert decimal is not None
    assert decimal.value == 1.2


@pytest.mark.parametrize("empty", [None, "", "  ", {}, ...], ids=repr)
def test_absent_or_empty_custom_fields_mean_none(empty: Any) -> None:
    assert parse_case(row_with(custom_fields=empty)).custom_fields == ()


INTEGRATION = {
    "integration_id": "testforce",
    "external_id": "0038d000006y2ceAAA",
    "external_url": "https://talkdesk-1cf-dev-ed.my.testforce.com/0038d000006y2ceAAA",
    "contact_type": "contact",
    "external_sync_state": "1;623db0bfbe376200017f97bc;2022-03-25T12:08:32.458482160Z;1;0",
}


@pytest.mark.parametrize(
    "integration", [INTEGRATION, json.dumps(INTEGRATION)], ids=["object", "json-string"]
)
def test_requester_integration_may_be_an_object_or_a_json_string(integration: Any) -> None:
    parsed = parse_case(row_with(requester_integration=integration)).requester_integration
    assert parsed is not None
    assert parsed.integration_id == "testforce"
    assert parsed.contact_type == "contact"


@pytest.mark.parametrize(
    "note",
    [
        {"id": "1", "notes_title": "Subject", "notes_body": "Body", "public": True},
        {"id": "1", "note_title": "Subject", "note_body": "Body"},
        {"id": 1, "note_title": "Subject", "note_body": "Body", "public": None},
    ],
    ids=["notes_title", "note_title", "numeric-id"],
)
def test_note_keys_are_read_in_either_documented_spelling(note: dict[str, Any]) -> None:
    (parsed,) = parse_case(row_with(notes=[note])).notes
    assert (parsed.id, parsed.title, parsed.body, parsed.public) == ("1", "Subject", "Body", True)


OPTIONAL_KEYS = [
    "requester_email",
    "requester_phone",
    "group_name",
    "agent_id",
    "agent_name",
    "form_name",
    "priority",
    "type",
    "about",
    "notes",
    "custom_fields",
    "requester_integration",
]


@pytest.mark.parametrize("missing", [..., None], ids=["missing", "null"])
def test_optional_keys_may_be_missing_or_null(missing: Any) -> None:
    case = parse_case(row_with(**dict.fromkeys(OPTIONAL_KEYS, missing)), list_row=True)
    assert case.agent_name == case.requester_email == case.type == ""
    assert case.requester_integration is None
    assert case.notes == ()


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2022-09-08T06:46:00Z", datetime(2022, 9, 8, 6, 46, tzinfo=UTC)),
        ("2022-09-08 06:46:00+00:00", datetime(2022, 9, 8, 6, 46, tzinfo=UTC)),
        ("2021-05-26T13:17:58.000+00:00", datetime(2021, 5, 26, 13, 17, 58, tzinfo=UTC)),
        ("2022-09-01 00:00:00.000", datetime(2022, 9, 1, tzinfo=UTC)),
        ("2022-09-08T08:46:00+02:00", datetime(2022, 9, 8, 6, 46, tzinfo=UTC)),
        ("2022-03-25T12:08:32.458482160Z", datetime(2022, 3, 25, 12, 8, 32, 458482, tzinfo=UTC)),
    ],
)
def test_dates_parse_with_or_without_millis_offsets_and_the_t(text: str, moment: datetime) -> None:
    case = parse_case(row_with(create_at=text))
    assert case.create_at == moment
    assert case.create_at is not None
    assert case.create_at.tzinfo is UTC


def test_zero_results_parse_although_the_schema_says_at_least_one() -> None:
    page = parse_case_page(page_of(total=0, count=0))
    assert page.cases == ()
    assert (page.first_index, page.last_index, page.page_count) == (0, 0, 1)
    assert not page.has_next
    assert not page.has_previous


def test_the_detail_shape_of_the_openapi_spec_parses_without_dates_or_requester() -> None:
    detail = {
        "id": "1",
        "title": "test title",
        "description": "test description",
        "owner_id": "61036b508ff57b5578f25a10",
        "form_name": "Default Case Form",
        "priority": "LOW",
        "type": "QUESTION",
        "status": "NEW",
        "resolution": "solve successfully",
        "notes": [{"id": "10000001", "notes_title": "test subject", "notes_body": "test body",
                   "public": True}],
        "custom_fields": '{"date1": {"label": "2022-09-21T06:30:21Z", "value": "2022-09-21T06:30:21Z"}}',
    }  # fmt: skip
    case = parse_case(detail)
    assert (case.owner_id, case.resolution, case.status_label) == (
        "61036b508ff57b5578f25a10",
        "solve successfully",
        "New",
    )
    assert case.create_at is None
    assert case.requester_name == ""


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"total": 1, "count": 0, "page": 1, "per_page": 50}, "_embedded"),
        (page_of(_embedded=None), "_embedded"),
        (page_of(_embedded={}), "_embedded.data"),
        (page_of(_embedded={"data": {"0": MINIMAL_ROW}}), "_embedded.data"),
        (page_of(total="5"), "total"),
        (page_of(total=5.0), "total"),
        (page_of(total=True), "total"),
        (page_of(total=-1), "total"),
        (page_of(count=None), "count"),
        (page_of(page=0), "page"),
        (page_of(per_page=0), "per_page"),
        ([MINIMAL_ROW], "response"),
        ("<html>", "response"),
        (page_of("not a case"), "_embedded.data[0]"),
        (page_of(row_with(id=...)), "_embedded.data[0].id"),
        (page_of(row_with(id="")), "_embedded.data[0].id"),
        (page_of(row_with(status=...)), "_embedded.data[0].status"),
        (page_of(row_with(title=42)), "_embedded.data[0].title"),
        (page_of(row_with(create_at=...)), "_embedded.data[0].create_at"),
        (page_of(row_with(update_at="yesterday")), "_embedded.data[0].update_at"),
        (page_of(row_with(update_at=1714640504)), "_embedded.data[0].update_at"),
        (page_of(row_with(custom_fields="{not json")), "_embedded.data[0].custom_fields"),
        (page_of(row_with(custom_fields=[1])), "_embedded.data[0].custom_fields"),
        (page_of(row_with(custom_fields={"text1": "x"})), "_embedded.data[0].custom_fields.text1"),
        (page_of(row_with(custom_fields={"t": {"value": {"a": 1}}})), "custom_fields.t.value"),
        (page_of(row_with(requester_integration="[1]")), "requester_integration"),
        (page_of(row_with(notes={"id": "1"})), "_embedded.data[0].notes"),
        (page_of(row_with(notes=[{"id": "1", "public": "yes"}])), "notes[0].public"),
        (page_of(row_with(notes=[{"notes_title": "x"}])), "notes[0].id"),
    ],
)
def test_an_unexpected_shape_is_a_bad_response_naming_where(document: Any, where: str) -> None:
    with pytest.raises(BadResponse) as caught:
        parse_case_page(document)
    assert where in caught.value.message
    assert caught.value.message.startswith("Talkdesk sent a response Casebook could not read")


def test_a_bad_response_names_the_place_but_never_the_value() -> None:
    with pytest.raises(BadResponse) as caught:
        parse_case_page(page_of(row_with(update_at="secret-looking-value")))
    assert "secret-looking-value" not in str(caught.value)


@pytest.mark.parametrize(
    ("total", "page", "per_page", "on_page", "first", "last", "pages", "has_next", "has_prev"),
    [
        (123, 1, 50, 50, 1, 50, 3, True, False),
        (123, 2, 50, 50, 51, 100, 3, True, True),
        (123, 3, 50, 23, 101, 123, 3, False, True),
        (500, 1, 500, 500, 1, 500, 1, False, False),
        (501, 2, 500, 1, 501, 501, 2, False, True),
        (10, 4, 5, 0, 0, 0, 2, False, True),
    ],
)
def test_page_positions_come_from_page_per_page_and_total(
    total: int,
    page: int,
    per_page: int,
    on_page: int,
    first: int,
    last: int,
    pages: int,
    has_next: bool,
    has_prev: bool,
) -> None:
    cases = parse_case_page(page_of(*[MINIMAL_ROW] * on_page)).cases
    result = CasePage(total=total, count=on_page, page=page, per_page=per_page, cases=cases)
    assert (result.first_index, result.last_index, result.page_count) == (first, last, pages)
    assert (result.has_next, result.has_previous) == (has_next, has_prev)


# --- case fields -------------------------------------------------------------------------------

FIELD: dict[str, Any] = {
    "id": "1397421734151344130",
    "name": "Region",
    "key": "dependent_field1",
    "type": "009",
    "dict_list": [
        {
            "key": "001",
            "value": "California",
            "children": [{"key": "002", "value": "Santa Clara", "children": []}],
        },
        {"key": "003", "lable": "Oregon", "children": ""},
    ],
    "description": "Where the customer is",
    "required": False,
    "active": True,
    "create_at": "2021-05-26 13:17:58+00:00",
    "update_at": "2021-05-26 13:17:58+00:00",
}


@pytest.mark.parametrize(
    "document",
    [
        [FIELD],
        {"data": [FIELD]},
        {"fields": [FIELD]},
        {"_embedded": {"fields": [FIELD]}},
        FIELD,
    ],
    ids=["top-level-list", "data", "fields", "embedded", "single-object"],
)
def test_the_fields_endpoint_may_answer_a_list_a_wrapped_list_or_one_field(document: Any) -> None:
    (field,) = parse_case_fields(document)
    assert (field.id, field.key, field.name, field.type_code) == (
        "1397421734151344130",
        "dependent_field1",
        "Region",
        "009",
    )
    assert field.kind == "dependent_field"
    assert field.options == (
        FieldOption("001", "California"),
        FieldOption("002", "Santa Clara", parent_key="001"),
        FieldOption("003", "Oregon"),
    )
    assert field.create_at == datetime(2021, 5, 26, 13, 17, 58, tzinfo=UTC)


def test_field_timestamps_may_be_spelled_created_at() -> None:
    cfields_style = {k: v for k, v in FIELD.items() if k not in {"create_at", "update_at"}}
    cfields_style |= {"created_at": "2021-05-26T13:17:58.000+00:00", "updated_at": None}
    (field,) = parse_case_fields([cfields_style])
    assert field.create_at == datetime(2021, 5, 26, 13, 17, 58, tzinfo=UTC)
    assert field.update_at is None


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("checkbox31", "checkbox"),
        ("dropdown2", "dropdown"),
        ("drop_down1", "dropdown"),
        ("multi_select1", "multi_select"),
        ("text1", "text"),
        ("multi_line_text1", "multi_line_text"),
        ("numeric1", "numeric"),
        ("decimal1", "decimal"),
        ("date1", "date"),
        ("dependent_field12", "dependent_field"),
        ("assign_reason", "other"),
    ],
)
def test_a_fields_kind_comes_from_its_key_prefix(key: str, kind: str) -> None:
    (field,) = parse_case_fields([{"id": "1", "key": key, "name": "N", "type": "001"}])
    assert field.kind == kind
    assert (field.required, field.active, field.options) == (False, True, ())


@pytest.mark.parametrize(
    "document",
    [
        None,
        "fields",
        {"unexpected": []},
        [{"id": "1", "name": "no key"}],
        [{"id": "1", "key": "text1", "required": "no"}],
        [{"id": "1", "key": "text1", "dict_list": {"key": "x"}}],
        [{"id": "1", "key": "text1", "dict_list": [{"value": "no key"}]}],
    ],
)
def test_a_fields_response_of_another_shape_is_a_bad_response(document: Any) -> None:
    with pytest.raises(BadResponse):
        parse_case_fields(document)


# --- users, me, tokens -------------------------------------------------------------------------


def test_a_users_page_parses_and_knows_whether_more_follow() -> None:
    document = {
        "count": 1,
        "total": 2,
        "page": 1,
        "per_page": 1,
        "total_pages": 2,
        "_embedded": {
            "users": [
                {
                    "id": "5b34eb0cdcba1b000bdbd320",
                    "email": "paulo@example.com",
                    "name": "Paulo Omni",
                    "active": True,
                    "extension": 101,
                    "_links": {"self": {"href": "https://elsewhere.example/users/1"}},
                }
            ]
        },
        "_links": {"next": {"href": "https://elsewhere.example/users?page=2"}},
    }
    page = parse_user_page(document)
    assert page.users[0].name == "Paulo Omni"
    assert page.users[0].active is True
    assert page.has_next


@pytest.mark.parametrize(
    "document",
    [{"total": 1, "page": 1, "per_page": 20}, {"total": 1, "page": 1, "per_page": 20,
                                               "_embedded": {"users": None}}],
)  # fmt: skip
def test_a_users_page_without_its_list_is_a_bad_response(document: Any) -> None:
    with pytest.raises(BadResponse, match="_embedded"):
        parse_user_page(document)


def test_me_uses_id_and_falls_back_to_the_openid_subject() -> None:
    me = parse_me({"id": "u1", "sub": "1", "name": "Ana Ruiz", "email": "ana@example.com"})
    assert (me.id, me.sub, me.name, me.email) == ("u1", "1", "Ana Ruiz", "ana@example.com")
    assert parse_me({"sub": "s-9", "name": "Ana", "email": "a@example.com"}).id == "s-9"
    with pytest.raises(BadResponse):
        parse_me({"name": "Ana", "email": "a@example.com"})


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_token_response_becomes_a_token_set_with_an_absolute_expiry() -> None:
    tokens = parse_token_response(
        {
            "access_token": "access-secret",
            "token_type": "Bearer",
            "refresh_token": "refresh-secret",
            "expires_in": 599,
            "scope": "openid cases-public:read users:read",
            "sid": "02048a",
            "id_token": "id-secret",
        },
        now=NOW,
    )
    assert tokens.expires_at == NOW + timedelta(seconds=599)
    assert tokens.scopes == ("openid", "cases-public:read", "users:read")
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token) == (
        "access-secret",
        "refresh-secret",
        "id-secret",
    )
    assert "secret" not in repr(tokens)


def test_a_token_response_may_leave_out_the_refresh_token_and_scope() -> None:
    tokens = parse_token_response({"access_token": "a", "expires_in": "600"}, now=NOW)
    assert (tokens.refresh_token, tokens.scopes, tokens.id_token) == (None, (), None)


@pytest.mark.parametrize(
    "document",
    [
        {"token_type": "Bearer", "expires_in": 599},
        {"access_token": "", "expires_in": 599},
        {"access_token": "a"},
        {"access_token": "a", "expires_in": "soon"},
        {"access_token": "a", "expires_in": -1},
        {"access_token": "a", "expires_in": 599, "token_type": "mac"},
        {"access_token": 5, "expires_in": 599},
        ["access_token"],
    ],
)
def test_an_unusable_token_response_is_a_bad_response(document: Any) -> None:
    with pytest.raises(BadResponse):
        parse_token_response(document, now=NOW)
