from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dashboard.talkdesk import (
    CASE_QUERY_PARAMETERS,
    LABELS,
    MAX_LENGTHS,
    PER_PAGE_DEFAULT,
    PRIORITIES,
    REQUESTER_TYPES,
    STATUSES,
    TYPES,
    ArrayEncoding,
    CaseQuery,
    CustomFieldFilter,
    DateRange,
    encode_case_query,
    normalise_enum,
    normalise_requester_type,
)

JSON, CSV, REPEAT = ArrayEncoding.JSON, ArrayEncoding.CSV, ArrayEncoding.REPEAT
JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)
JAN_31_END = datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
BOTH_ENDS = '["2024-01-01T00:00:00Z","2024-01-31T23:59:59Z"]'


def test_the_query_object_has_exactly_the_22_api_parameters_in_contract_order() -> None:
    assert len(CASE_QUERY_PARAMETERS) == 22
    assert tuple(f.name for f in dataclasses.fields(CaseQuery)) == CASE_QUERY_PARAMETERS


def test_every_length_limit_belongs_to_a_parameter() -> None:
    assert set(MAX_LENGTHS) <= set(CASE_QUERY_PARAMETERS)
    assert MAX_LENGTHS["agent_id"] == 255
    assert MAX_LENGTHS["agent_name"] == 125
    assert MAX_LENGTHS["requester_phone"] == 20
    assert MAX_LENGTHS["description"] == 1_000_000_000
    assert MAX_LENGTHS["status"] == MAX_LENGTHS["about"] == 31


def test_every_enum_value_has_talkdesks_human_spelling() -> None:
    for value in (*STATUSES, *PRIORITIES, *TYPES, *REQUESTER_TYPES):
        assert LABELS[value]
    assert LABELS["ON_HOLD"] == "On-hold"
    assert LABELS["OPEN"] == "Open"
    assert LABELS["AGENT"] == "Agent"


@pytest.mark.parametrize(
    ("spelling", "api_value"),
    [
        ("ON_HOLD", "ON_HOLD"),
        ("On-hold", "ON_HOLD"),
        ("on hold", "ON_HOLD"),
        ("ON-HOLD", "ON_HOLD"),
        (" on -  hold ", "ON_HOLD"),
        ("Open", "OPEN"),
        ("normal", "NORMAL"),
        ("desc", "DESC"),
    ],
)
def test_enum_spellings_normalise_to_the_api_upper_case(spelling: str, api_value: str) -> None:
    assert normalise_enum(spelling) == api_value


@pytest.mark.parametrize(
    ("spelling", "api_value"),
    [("agents", "AGENT"), ("Contact", "CONTACT"), ("CONTACTS", "CONTACT"), ("agent", "AGENT")],
)
def test_requester_type_also_accepts_the_plural_of_the_curl_sample(
    spelling: str, api_value: str
) -> None:
    assert normalise_requester_type(spelling) == api_value


def encoded(query: CaseQuery, encoding: ArrayEncoding) -> list[tuple[str, str]]:
    """The pairs after the always-present page and per_page."""
    pairs = encode_case_query(query, encoding)
    assert pairs[:2] == [("page", str(query.page)), ("per_page", str(query.per_page))]
    return pairs[2:]


# (parameter values, JSON pairs, CSV pairs, repeated-key pairs); one row per API parameter.
ENCODING_TABLE: list[tuple[dict[str, Any], list[Any], list[Any], list[Any]]] = [
    ({"ids": ("12", "13")}, [("ids", '["12","13"]')], [("ids", "12,13")],
     [("ids", "12"), ("ids", "13")]),
    ({"agent_id": "62ff04ae644bcb001ebbca67"}, [("agent_id", "62ff04ae644bcb001ebbca67")], "same",
     "same"),
    ({"agent_name": "Lee Park"}, [("agent_name", "Lee Park")], "same", "same"),
    ({"agent_email": "lee@example.com"}, [("agent_email", "lee@example.com")], "same", "same"),
    ({"requester_type": "agents"}, [("requester_type", "AGENT")], "same", "same"),
    ({"requester_id": "634fa22b"}, [("requester_id", "634fa22b")], "same", "same"),
    ({"requester_name": "Dana Smith"}, [("requester_name", "Dana Smith")], "same", "same"),
    ({"requester_email": "dana+vip@example.com"},
     [("requester_email", "dana+vip@example.com")], "same", "same"),
    ({"requester_phone": "+15550100123"}, [("requester_phone", "+15550100123")], "same", "same"),
    ({"title": "Refund, not received"}, [("title", "Refund, not received")], "same", "same"),
    ({"description": "order 991"}, [("description", "order 991")], "same", "same"),
    ({"status": ("Open", "pending")}, [("status", '["OPEN","PENDING"]')],
     [("status", "OPEN,PENDING")], [("status", "OPEN"), ("status", "PENDING")]),
    ({"priority": ("HIGH",)}, [("priority", '["HIGH"]')], [("priority", "HIGH")],
     [("priority", "HIGH")]),
    ({"type": ("question", "Incident")}, [("type", '["QUESTION","INCIDENT"]')],
     [("type", "QUESTION,INCIDENT")], [("type", "QUESTION"), ("type", "INCIDENT")]),
    ({"about": ("Payments", "Área 2")}, [("about", '["Payments","Área 2"]')],
     [("about", "Payments,Área 2")], [("about", "Payments"), ("about", "Área 2")]),
    ({"create_at": DateRange(JAN_1, JAN_31_END)}, [("create_at", BOTH_ENDS)],
     [("create_at", "2024-01-01T00:00:00Z,2024-01-31T23:59:59Z")],
     [("create_at", "2024-01-01T00:00:00Z"), ("create_at", "2024-01-31T23:59:59Z")]),
    ({"update_at": DateRange(JAN_1, JAN_31_END)}, [("update_at", BOTH_ENDS)],
     [("update_at", "2024-01-01T00:00:00Z,2024-01-31T23:59:59Z")],
     [("update_at", "2024-01-01T00:00:00Z"), ("update_at", "2024-01-31T23:59:59Z")]),
    ({"order_by": "Update-at"}, [("order_by", "update_at")], "same", "same"),
    ({"sort": "asc"}, [("sort", "ASC")], "same", "same"),
    ({"custom_fields": (CustomFieldFilter("checkbox31", False),)},
     [("custom_fields", '[{"label":"checkbox31","value":false}]')], "same", "same"),
    ({"page": 3, "per_page": 500}, [], "same", "same"),
]  # fmt: skip


@pytest.mark.parametrize(("values", "as_json", "as_csv", "as_repeat"), ENCODING_TABLE)
@pytest.mark.parametrize("encoding", [JSON, CSV, REPEAT])
def test_each_parameter_is_encoded_as_the_chosen_array_encoding_says(
    values: dict[str, Any],
    as_json: list[Any],
    as_csv: list[Any] | str,
    as_repeat: list[Any] | str,
    encoding: ArrayEncoding,
) -> None:
    expected = {JSON: as_json, CSV: as_csv, REPEAT: as_repeat}[encoding]
    assert encoded(CaseQuery(**values), encoding) == (as_json if expected == "same" else expected)


def test_the_encoding_table_covers_every_parameter() -> None:
    covered = {name for values, *_ in ENCODING_TABLE for name in values}
    assert covered == set(CASE_QUERY_PARAMETERS)


def test_an_empty_query_sends_only_page_and_per_page() -> None:
    for encoding in ArrayEncoding:
        assert encode_case_query(CaseQuery(), encoding) == [
            ("page", "1"),
            ("per_page", str(PER_PAGE_DEFAULT)),
        ]


def test_parameters_go_out_in_contract_order_whatever_order_they_were_given_in() -> None:
    query = CaseQuery(sort="DESC", status=("NEW",), agent_id="a", ids=("1",), order_by="create_at")
    assert [name for name, _ in encode_case_query(query)] == [
        "page",
        "per_page",
        "ids",
        "agent_id",
        "status",
        "order_by",
        "sort",
    ]


@pytest.mark.parametrize(
    ("date_range", "wire"),
    [
        (DateRange(start=JAN_1), '["2024-01-01T00:00:00Z","9999-12-31T23:59:59Z"]'),
        (DateRange(end=JAN_31_END), '["1970-01-01T00:00:00Z","2024-01-31T23:59:59Z"]'),
    ],
)
def test_a_one_sided_range_fills_its_open_end(date_range: DateRange, wire: str) -> None:
    assert encoded(CaseQuery(update_at=date_range), JSON) == [("update_at", wire)]


def test_range_bounds_are_sent_as_utc_instants_without_fractions() -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    start = datetime(2024, 7, 1, 0, 30, 15, 999_999, tzinfo=lisbon_summer)
    assert DateRange(start=start).wire_values()[0] == "2024-06-30T23:30:15Z"


def test_a_range_needs_an_aware_bound_in_order() -> None:
    with pytest.raises(ValueError, match="start, an end"):
        DateRange()
    with pytest.raises(ValueError, match="timezone-aware"):
        DateRange(start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="cannot end before"):
        DateRange(start=JAN_31_END, end=JAN_1)


@pytest.mark.parametrize(
    ("value", "wire_value"),
    [
        (True, "true"),
        (7, "7"),
        (1.5, "1.5"),
        ("001", '"001"'),
        ("São Paulo", '"São Paulo"'),
        (("001", "002"), '["001","002"]'),
    ],
)
@pytest.mark.parametrize("encoding", [JSON, CSV, REPEAT])
def test_custom_fields_are_always_a_json_list_of_label_and_typed_value(
    value: Any, wire_value: str, encoding: ArrayEncoding
) -> None:
    query = CaseQuery(custom_fields=(CustomFieldFilter("field1", value),))
    assert encoded(query, encoding) == [
        ("custom_fields", f'[{{"label":"field1","value":{wire_value}}}]')
    ]


def test_several_custom_field_filters_travel_in_one_parameter() -> None:
    query = CaseQuery(
        custom_fields=(CustomFieldFilter("checkbox1", True), CustomFieldFilter("text1", "x"))
    )
    assert encoded(query, REPEAT) == [
        (
            "custom_fields",
            '[{"label":"checkbox1","value":true},{"label":"text1","value":"x"}]',
        )
    ]


def test_a_custom_field_filter_refuses_a_missing_key_and_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="field key"):
        CustomFieldFilter("", True)
    with pytest.raises(ValueError, match="finite"):
        CustomFieldFilter("decimal1", float("nan"))


def test_queries_that_mean_the_same_compare_and_hash_equal() -> None:
    one = CaseQuery(status=("On-hold",), sort="desc", requester_type="contacts")
    other = CaseQuery(status=("ON_HOLD",), sort="DESC", requester_type="CONTACT")
    assert one == other
    assert hash(one) == hash(other)


def test_replace_changes_some_parameters_and_validates_the_result() -> None:
    query = CaseQuery(status=("OPEN",), per_page=100)
    second = query.replace(page=2)
    assert (second.page, second.per_page, second.status) == (2, 100, ("OPEN",))
    with pytest.raises(ValueError, match="per_page"):
        query.replace(per_page=501)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"page": 0}, "page must be between 1 and 2147483647"),
        ({"page": 2147483648}, "page must be between"),
        ({"per_page": 0}, "per_page must be between 1 and 500"),
        ({"per_page": 501}, "per_page"),
        ({"ids": ("12", "abc")}, "ids: 'abc' is not a case id"),
        ({"ids": ("1/../2",)}, "not a case id"),
        ({"status": ("OPEN", "WAITING")}, "status: 'WAITING' is not one of NEW, OPEN"),
        ({"priority": ("HIGHEST",)}, "priority"),
        ({"requester_type": "robot"}, "requester_type"),
        ({"order_by": "title"}, "order_by"),
        ({"sort": "up"}, "sort"),
        ({"agent_name": "x" * 126}, "agent_name must be at most 125 characters"),
        ({"requester_phone": "+1" + "5" * 19}, "requester_phone must be at most 20"),
        ({"about": ("x" * 32,)}, "about must be at most 31"),
        ({"type": ("",)}, "type must not contain empty values"),
    ],
)
def test_values_outside_the_contract_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        CaseQuery(**values)


def test_a_case_type_added_by_an_admin_is_allowed_and_normalised() -> None:
    query = CaseQuery(type=("Feature request",))
    assert encoded(query, JSON) == [("type", '["FEATURE_REQUEST"]')]


def test_strings_at_their_length_limit_are_accepted() -> None:
    query = CaseQuery(agent_name="x" * 125, requester_phone="+" + "1" * 19, title="t" * 255)
    assert ("agent_name", "x" * 125) in encode_case_query(query)
