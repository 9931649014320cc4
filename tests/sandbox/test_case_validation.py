"""Invalid input to ``GET /cm/core/va/cases`` answers 400 ``1520005`` naming every bad field."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from dashboard.sandbox.server import Sandbox

Params = list[tuple[str, str]]


def bad_fields(
    sandbox: Sandbox, http: requests.Session, tokens: dict[str, Any], params: Params
) -> dict[str, str]:
    response = http.get(
        f"{sandbox.base_url}/cm/core/va/cases",
        params=params,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["message"]) == ("1520005", "Bad Request.")
    return {field["name"]: field["description"] for field in body["fields"]}


def ok(sandbox: Sandbox, http: requests.Session, tokens: dict[str, Any], params: Params) -> None:
    response = http.get(
        f"{sandbox.base_url}/cm/core/va/cases",
        params=params,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "0"),
        ("page", "2147483648"),
        ("page", "two"),
        ("page", "1.5"),
        ("per_page", "0"),
        ("per_page", "501"),
        ("per_page", "-5"),
    ],
)
def test_paging_outside_its_limits_is_rejected(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    name: str,
    value: str,
) -> None:
    assert list(bad_fields(sandbox, sandbox_http, sandbox_tokens, [(name, value)])) == [name]


def test_paging_at_its_limits_is_accepted(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    ok(sandbox, sandbox_http, sandbox_tokens, [("page", "2147483647"), ("per_page", "500")])
    ok(sandbox, sandbox_http, sandbox_tokens, [("page", "1"), ("per_page", "1")])


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("agent_id", 255),
        ("agent_name", 125),
        ("agent_email", 255),
        ("requester_id", 255),
        ("requester_name", 125),
        ("requester_email", 255),
        ("requester_phone", 20),
        ("title", 255),
    ],
)
def test_text_parameters_longer_than_their_limit_are_rejected(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    name: str,
    limit: int,
) -> None:
    ok(sandbox, sandbox_http, sandbox_tokens, [(name, "7" * limit)])
    fields = bad_fields(sandbox, sandbox_http, sandbox_tokens, [(name, "7" * (limit + 1))])
    assert fields == {name: f"size must be between 0 and {limit}"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "BOGUS"),
        ("status", '["OPEN", "SNOOZED"]'),
        ("status", "[1]"),
        ("priority", "Normal,Meh"),
        ("type", '["QUESTION", "FEATURE"]'),
        ("requester_type", "robot"),
        ("requester_type", '["AGENT"]'),
        ("order_by", "title"),
        ("sort", "sideways"),
    ],
)
def test_values_outside_an_enum_are_rejected(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    name: str,
    value: str,
) -> None:
    assert list(bad_fields(sandbox, sandbox_http, sandbox_tokens, [(name, value)])) == [name]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", json.dumps(["OPEN"] * 40)),
        ("about", json.dumps(["x" * 32])),
        ("about", "[not json"),
        ("about", '["Billing", {"x": 1}]'),
    ],
)
def test_arrays_over_their_length_limits_or_not_arrays_are_rejected(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    name: str,
    value: str,
) -> None:
    assert list(bad_fields(sandbox, sandbox_http, sandbox_tokens, [(name, value)])) == [name]


@pytest.mark.parametrize(
    "value",
    [
        '["yesterday", "today"]',
        '["2024-01-01T00:00:00Z"]',
        '["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"]',
        '["2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z"]',
        '["2024-01-01", "2024-01-31"]',
        '["2024-13-01T00:00:00Z", "2024-12-31T00:00:00Z"]',
        "2024-01-01T00:00:00Z",
    ],
    ids=["words", "one-item", "three-items", "reversed", "bare-dates", "month-13", "scalar"],
)
def test_bad_date_ranges_are_rejected(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any], value: str
) -> None:
    fields = bad_fields(sandbox, sandbox_http, sandbox_tokens, [("update_at", value)])
    assert list(fields) == ["update_at"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("checkbox1=true", "JSON"),
        ('[{"label": "checkbox31", "value": false}]', "unknown custom field key 'checkbox31'"),
        ('{"nope1": {"value": 1}}', "unknown custom field key"),
        ('[{"label": "checkbox1", "value": "maybe"}]', "true or false"),
        ('[{"label": "dropdown1", "value": "Mobile app"}]', "not an option key"),
        ('[{"label": "multi_select1", "value": ["001", "999"]}]', "not an option key"),
        ('[{"label": "numeric1", "value": "lots"}]', "number"),
        ('[{"label": "date1", "value": "next week"}]', "date"),
        ('{"checkbox1": true}', "expects"),
        ("[1, 2]", "expects"),
    ],
)
def test_bad_custom_field_filters_are_rejected(
    sandbox: Sandbox,
    sandbox_http: requests.Session,
    sandbox_tokens: dict[str, Any],
    value: str,
    reason: str,
) -> None:
    fields = bad_fields(sandbox, sandbox_http, sandbox_tokens, [("custom_fields", value)])
    assert list(fields) == ["custom_fields"]
    assert reason in fields["custom_fields"]


def test_ids_must_be_case_ids(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    for value in ("abc", '["12", "x1"]', "[true]", "12,,13"):
        assert list(bad_fields(sandbox, sandbox_http, sandbox_tokens, [("ids", value)])) == ["ids"]


def test_a_scalar_parameter_given_twice_is_rejected(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    fields = bad_fields(sandbox, sandbox_http, sandbox_tokens, [("title", "a"), ("title", "b")])
    assert list(fields) == ["title"]


def test_every_bad_parameter_is_named_in_one_answer(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    params = [
        ("page", "0"),
        ("per_page", "1000"),
        ("status", "Snoozed"),
        ("requester_phone", "+" + "1" * 25),
        ("create_at", "soon"),
        ("sort", "up"),
        ("custom_fields", '[{"label": "color1", "value": "red"}]'),
        ("title", "fine"),
    ]
    fields = bad_fields(sandbox, sandbox_http, sandbox_tokens, params)
    assert set(fields) == {
        "page",
        "per_page",
        "status",
        "requester_phone",
        "create_at",
        "sort",
        "custom_fields",
    }
    assert all(fields.values())
