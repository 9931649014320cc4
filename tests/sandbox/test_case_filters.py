"""``GET /cm/core/va/cases`` filters, parameter by parameter, against counts from the data."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dashboard.sandbox.data import Case
from dashboard.sandbox.server import Sandbox

ENCODINGS = ("json", "csv", "repeat")
Params = list[tuple[str, str]]


def encode_array(name: str, values: Sequence[str], encoding: str) -> Params:
    """The three wire encodings of an array parameter (talkdesk-api.md §2.3)."""
    if encoding == "json":
        return [(name, json.dumps(list(values)))]
    if encoding == "csv":
        return [(name, ",".join(values))]
    return [(name, value) for value in values]


@pytest.fixture
def fetch(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> Callable[..., dict[str, Any]]:
    headers = {"Authorization": f"Bearer {sandbox_tokens['access_token']}"}

    def fetch(params: Params | dict[str, Any], *, status: int = 200) -> dict[str, Any]:
        response = sandbox_http.get(
            f"{sandbox.base_url}/cm/core/va/cases", params=params, headers=headers
        )
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    return fetch


@pytest.fixture
def total(fetch: Callable[..., dict[str, Any]]) -> Callable[[Params], int]:
    def total(params: Params) -> int:
        count: int = fetch([*params, ("per_page", "1")])["total"]
        return count

    return total


def count(sandbox: Sandbox, predicate: Callable[[Case], bool]) -> int:
    return sum(1 for case in sandbox.data.cases if predicate(case))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_status_filter_narrows_results_in_every_array_encoding(
    sandbox: Sandbox, total: Callable[[Params], int], encoding: str
) -> None:
    expected = count(sandbox, lambda case: case.status in {"OPEN", "PENDING"})
    assert 0 < expected < len(sandbox.data.cases)
    assert total(encode_array("status", ["OPEN", "PENDING"], encoding)) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_priority_filter_narrows_results_in_every_array_encoding(
    sandbox: Sandbox, total: Callable[[Params], int], encoding: str
) -> None:
    expected = count(sandbox, lambda case: case.priority in {"HIGH", "URGENT"})
    assert total(encode_array("priority", ["High", "Urgent"], encoding)) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_type_filter_narrows_results_in_every_array_encoding(
    sandbox: Sandbox, total: Callable[[Params], int], encoding: str
) -> None:
    expected = count(sandbox, lambda case: case.type in {"INCIDENT", "TASK"})
    assert total(encode_array("type", ["INCIDENT", "task"], encoding)) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_about_filter_matches_whole_values_in_every_array_encoding(
    sandbox: Sandbox, total: Callable[[Params], int], encoding: str
) -> None:
    expected = count(sandbox, lambda case: case.about in {"Refunds", "Shipping & delivery"})
    assert total(encode_array("about", ["refunds", "Shipping & delivery"], encoding)) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ids_filter_returns_exactly_the_listed_cases_in_every_array_encoding(
    fetch: Callable[..., dict[str, Any]], encoding: str
) -> None:
    body = fetch(encode_array("ids", ["42", "7", "9999", "123456789"], encoding))
    assert body["total"] == 3
    assert [row["id"] for row in body["_embedded"]["data"]] == ["9999", "42", "7"]


def test_a_scalar_status_is_accepted_as_in_the_curl_sample(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    assert total([("status", "Open")]) == count(sandbox, lambda case: case.status == "OPEN")


@pytest.mark.parametrize("spelling", ["ON_HOLD", "On-hold", "on hold", "ON-HOLD", "on_Hold"])
def test_enum_values_match_in_any_case_with_underscore_dash_or_space(
    sandbox: Sandbox, total: Callable[[Params], int], spelling: str
) -> None:
    expected = count(sandbox, lambda case: case.status == "ON_HOLD")
    assert expected > 0
    assert total([("status", json.dumps([spelling]))]) == expected


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [("AGENT", "AGENT"), ("agents", "AGENT"), ("Contact", "CONTACT"), ("contacts", "CONTACT")],
)
def test_requester_type_accepts_the_enum_and_the_plural_aliases(
    sandbox: Sandbox, total: Callable[[Params], int], spelling: str, kind: str
) -> None:
    expected = count(sandbox, lambda case: case.requester.type == kind)
    assert expected > 0
    assert total([("requester_type", spelling)]) == expected


def test_text_filters_match_case_insensitive_substrings(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    agent = sandbox.data.agents[3]
    checks: list[tuple[str, str, Callable[[Case], bool]]] = [
        ("title", "REFUND", lambda c: "refund" in c.title.lower()),
        ("description", "SCREENSHOT", lambda c: "screenshot" in c.description.lower()),
        ("requester_name", "PATEL", lambda c: "patel" in c.requester.name.lower()),
        ("requester_email", "@EXAMPLE.ORG", lambda c: "@example.org" in (c.requester.email or "")),
        ("agent_name", agent.name.split()[0].upper(), lambda c: c.agent is not None
         and agent.name.split()[0].lower() in c.agent.name.lower()),
        ("agent_email", agent.email.upper(), lambda c: c.agent is not None
         and c.agent.email == agent.email),
    ]  # fmt: skip
    for name, value, predicate in checks:
        expected = count(sandbox, predicate)
        assert 0 < expected < len(sandbox.data.cases), name
        assert total([(name, value)]) == expected, name


def test_agent_id_and_requester_id_match_exactly(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    agent = sandbox.data.agents[0]
    requester = sandbox.data.cases[-1].requester
    assert total([("agent_id", agent.id)]) == count(
        sandbox, lambda c: c.agent is not None and c.agent.id == agent.id
    )
    assert total([("requester_id", requester.id)]) == count(
        sandbox, lambda c: c.requester.id == requester.id
    )
    assert total([("agent_id", agent.id[:10])]) == 0
    assert total([("requester_id", requester.id.upper() + "0")]) == 0


def test_requester_phone_needs_its_plus_percent_encoded(
    sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]
) -> None:
    phone = next(c.requester.phone for c in reversed(sandbox.data.cases) if c.requester.phone)
    assert phone is not None
    expected = count(
        sandbox, lambda c: c.requester.phone is not None and phone in c.requester.phone
    )
    headers = {"Authorization": f"Bearer {sandbox_tokens['access_token']}"}
    url = f"{sandbox.base_url}/cm/core/va/cases?per_page=1&requester_phone="
    encoded = sandbox_http.get(url + phone.replace("+", "%2B"), headers=headers).json()
    # A raw "+" decodes to a space, as on any form-decoding server: nothing matches.
    raw = sandbox_http.get(url + phone, headers=headers).json()
    assert (encoded["total"], raw["total"]) == (expected, 0)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_create_at_range_is_inclusive_in_every_array_encoding(
    sandbox: Sandbox, total: Callable[[Params], int], encoding: str
) -> None:
    cases = sandbox.data.cases
    low, high = cases[2000].create_ts, cases[2100].create_ts
    bounds = [
        datetime.fromtimestamp(low, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        datetime.fromtimestamp(high, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]
    expected = count(sandbox, lambda c: low <= c.create_ts <= high)
    assert expected >= 101
    assert total(encode_array("create_at", bounds, encoding)) == expected


@pytest.mark.parametrize(
    "style",
    [
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%d %H:%M:%S.000",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S.123456+00:00",
    ],
)
def test_update_at_accepts_both_documented_date_formats(
    sandbox: Sandbox, total: Callable[[Params], int], style: str
) -> None:
    start = sandbox.data.now - timedelta(days=3)
    end = sandbox.data.now - timedelta(days=1)
    low, high = start.timestamp(), end.timestamp()
    if ".123456" in style:
        low += 0.123456
        high += 0.123456
    expected = count(sandbox, lambda c: low <= c.update_ts <= high)
    assert expected > 0
    bounds = [start.strftime(style), end.strftime(style)]
    assert total([("update_at", json.dumps(bounds))]) == expected


def test_a_date_with_an_offset_means_the_same_instant(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    start = (sandbox.data.now - timedelta(days=10)).replace(microsecond=0)
    end = start + timedelta(days=2)
    in_utc = [start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")]
    plus_two = timedelta(hours=2)
    in_cest = [
        (start + plus_two).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
        (end + plus_two).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    ]
    assert total([("create_at", json.dumps(in_utc))]) == total([("create_at", json.dumps(in_cest))])


def test_an_empty_or_null_range_end_leaves_that_side_open(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    middle = sandbox.data.cases[5000].create_ts
    stamp = datetime.fromtimestamp(middle, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert total([("create_at", json.dumps([stamp, None]))]) == count(
        sandbox, lambda c: c.create_ts >= middle
    )
    assert total([("create_at", f",{stamp}")]) == count(sandbox, lambda c: c.create_ts <= middle)


@pytest.mark.parametrize(
    "value",
    [
        '[{"label": "checkbox1", "value": true}]',
        '{"checkbox1": {"value": true, "name": "VIP customer"}}',
        '[{"checkbox1": {"value": true}}]',
    ],
    ids=["list-ref-pairs", "oas-object", "oas-list-of-objects"],
)
def test_custom_fields_filter_accepts_both_documented_shapes(
    sandbox: Sandbox, total: Callable[[Params], int], value: str
) -> None:
    expected = count(sandbox, lambda c: c.custom_fields.get("checkbox1") is True)
    assert 0 < expected < 3000
    assert total([("custom_fields", value)]) == expected


def test_custom_field_values_match_per_field_kind(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    day = next(
        str(c.custom_fields["date1"])[:10] for c in sandbox.data.cases if "date1" in c.custom_fields
    )
    order = next(
        str(c.custom_fields["text1"]) for c in sandbox.data.cases if "text1" in c.custom_fields
    )
    checks: list[tuple[str, Any, Callable[[Any], bool]]] = [
        ("checkbox1", False, lambda v: v is False),
        ("dropdown1", "003", lambda v: v == "003"),
        ("dropdown1", ["001", "002"], lambda v: v in {"001", "002"}),
        ("multi_select1", "002", lambda v: v is not None and "002" in v),
        (
            "multi_select1",
            ["004", "005"],
            lambda v: v is not None and bool({"004", "005"} & set(v)),
        ),
        ("text1", order.lower(), lambda v: v == order),
        ("numeric1", 120, lambda v: v == 120),
        ("date1", day, lambda v: v is not None and v.startswith(day)),
        ("date1", f"{day}T09:00:00Z", lambda v: v == f"{day}T09:00:00Z"),
    ]
    for key, given, predicate in checks:
        expected = sum(1 for c in sandbox.data.cases if predicate(c.custom_fields.get(key)))
        assert expected > 0, key
        filter_value = json.dumps([{"label": key, "value": given}])
        assert total([("custom_fields", filter_value)]) == expected, (key, given)


def test_every_listed_custom_field_must_match(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    expected = count(
        sandbox,
        lambda c: (
            c.custom_fields.get("checkbox1") is True and c.custom_fields.get("dropdown1") == "001"
        ),
    )
    both = {"checkbox1": {"value": True}, "dropdown1": {"value": "001"}}
    assert total([("custom_fields", json.dumps(both))]) == expected


def test_parameters_combine_with_and_while_array_values_combine_with_or(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    agent = sandbox.data.agents[1]
    expected = count(
        sandbox,
        lambda c: (
            c.status in {"RESOLVED", "CLOSED"}
            and c.priority == "NORMAL"
            and c.agent is agent
            and "e" in c.title.lower()
        ),
    )
    assert expected > 0
    params = [
        ("status", '["RESOLVED","CLOSED"]'),
        ("priority", "Normal"),
        ("agent_id", agent.id),
        ("title", "E"),
    ]
    assert total(params) == expected


def test_unknown_parameters_are_ignored_like_an_api_gateway_does(
    sandbox: Sandbox, total: Callable[[Params], int]
) -> None:
    assert total([("group_id", "billing"), ("q", "refund")]) == len(sandbox.data.cases)


def test_empty_parameters_count_as_absent(sandbox: Sandbox, total: Callable[[Params], int]) -> None:
    assert total([("title", ""), ("status", ""), ("custom_fields", "")]) == len(sandbox.data.cases)
