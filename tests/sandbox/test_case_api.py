"""The Case API's envelope, paging, ordering, row shapes, details, fields and the Users API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from dashboard.sandbox.data import LIST_SPELLING
from dashboard.sandbox.server import Sandbox

Get = Callable[..., requests.Response]


@pytest.fixture
def get(sandbox: Sandbox, sandbox_http: requests.Session, sandbox_tokens: dict[str, Any]) -> Get:
    headers = {"Authorization": f"Bearer {sandbox_tokens['access_token']}"}

    def get(path: str, params: Any = None) -> requests.Response:
        return sandbox_http.get(f"{sandbox.base_url}{path}", params=params, headers=headers)

    return get


def test_the_list_envelope_has_counts_links_and_rows(sandbox: Sandbox, get: Get) -> None:
    body = get("/cm/core/va/cases", {"page": 2, "per_page": 25}).json()
    base = f"{sandbox.base_url}/cm/core/va/cases"
    assert body["total"] == len(sandbox.data.cases)
    assert (body["count"], body["page"], body["per_page"]) == (25, 2, 25)
    assert body["_links"] == {
        "self": {"href": f"{base}?page=2&per_page=25"},
        "prev": {"href": f"{base}?page=1&per_page=25"},
        "next": {"href": f"{base}?page=3&per_page=25"},
    }
    assert len(body["_embedded"]["data"]) == 25


def test_per_page_defaults_to_50_and_the_first_page_has_no_prev_link(get: Get) -> None:
    body = get("/cm/core/va/cases").json()
    assert (body["page"], body["per_page"], body["count"]) == (1, 50, 50)
    assert set(body["_links"]) == {"self", "next"}


def test_the_last_page_has_no_next_link(sandbox: Sandbox, get: Get) -> None:
    last = -(-len(sandbox.data.cases) // 300)
    body = get("/cm/core/va/cases", {"page": last, "per_page": 300}).json()
    assert body["count"] == len(sandbox.data.cases) - (last - 1) * 300
    assert set(body["_links"]) == {"self", "prev"}


def test_zero_results_are_total_zero_and_an_empty_list(get: Get) -> None:
    body = get("/cm/core/va/cases", {"title": "no case has this title"}).json()
    assert (body["total"], body["count"], body["_embedded"]["data"]) == (0, 0, [])
    assert "next" not in body["_links"]


def test_a_page_past_the_end_is_empty_but_keeps_the_total(sandbox: Sandbox, get: Get) -> None:
    body = get("/cm/core/va/cases", {"page": 1000, "per_page": 500}).json()
    assert (body["total"], body["count"]) == (len(sandbox.data.cases), 0)


def test_the_default_order_is_newest_created_first(sandbox: Sandbox, get: Get) -> None:
    rows = get("/cm/core/va/cases", {"per_page": 5}).json()["_embedded"]["data"]
    newest = [case.id for case in sandbox.data.cases[-5:]][::-1]
    assert [row["id"] for row in rows] == newest


@pytest.mark.parametrize("order_by", ["create_at", "update_at", "UPDATE_AT"])
@pytest.mark.parametrize("sort", ["ASC", "desc"])
def test_order_by_and_sort_are_honoured_with_ties_broken_by_id(
    sandbox: Sandbox, get: Get, order_by: str, sort: str
) -> None:
    params = {"order_by": order_by, "sort": sort, "per_page": 500, "status": "NEW,OPEN"}
    rows = get("/cm/core/va/cases", params).json()["_embedded"]["data"]
    by_id = {case.id: case for case in sandbox.data.cases}
    stamp = "create_ts" if order_by == "create_at" else "update_ts"
    keys = [(getattr(by_id[row["id"]], stamp), int(row["id"])) for row in rows]
    assert keys == sorted(keys, reverse=sort == "desc")


def test_paging_through_a_filter_visits_every_match_once(sandbox: Sandbox, get: Get) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = get("/cm/core/va/cases", {"priority": "URGENT", "page": page, "per_page": 97}).json()
        seen.extend(row["id"] for row in body["_embedded"]["data"])
        if "next" not in body["_links"]:
            break
        page += 1
    expected = {case.id for case in sandbox.data.cases if case.priority == "URGENT"}
    assert len(seen) == len(expected) == body["total"]
    assert set(seen) == expected


def test_list_rows_use_title_case_enums_and_a_json_string_for_custom_fields(
    sandbox: Sandbox, get: Get
) -> None:
    rows = get("/cm/core/va/cases", {"per_page": 500}).json()["_embedded"]["data"]
    titles = set(LIST_SPELLING.values())
    for row in rows:
        case = sandbox.data.case(row["id"])
        assert case is not None
        assert {row["status"], row["priority"]} <= titles
        assert row["status"] == LIST_SPELLING[case.status]
        if "custom_fields" in row:
            decoded = json.loads(row["custom_fields"])
            assert set(decoded) == set(case.custom_fields)
            assert all(set(value) == {"label", "value", "name"} for value in decoded.values())
    assert {"New", "Open", "Pending", "On-hold"} <= {row["status"] for row in rows}


def test_rows_carry_every_documented_variant_somewhere(sandbox: Sandbox) -> None:
    rows = [case.row() for case in sandbox.data.cases]
    integrations = {type(row["requester_integration"]) for row in rows}
    assert integrations == {dict, str}
    assert any("agent_id" not in row for row in rows)
    assert any(row.get("agent_id") == "" for row in rows)
    assert any("group_name" not in row for row in rows)
    assert any("about" not in row for row in rows)
    assert any("requester_email" not in row for row in rows)
    assert any("requester_phone" not in row for row in rows)
    notes = [note for row in rows for note in row.get("notes", [])]
    assert any("notes_title" in note for note in notes)
    assert any("note_title" in note for note in notes)
    stamps = {row["create_at"][10] + row["create_at"][-1] for row in rows}
    assert stamps == {"TZ", " 0"}  # …T…Z, …T….000Z and "… …+00:00"
    assert any(row["create_at"].endswith(".000Z") for row in rows)


def test_case_details_use_upper_case_enums_and_an_object_for_custom_fields(
    sandbox: Sandbox, get: Get
) -> None:
    case = next(c for c in reversed(sandbox.data.cases) if c.notes and c.agent and c.custom_fields)
    response = get(f"/cm/core/va/cases/{case.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == case.id
    assert (body["status"], body["priority"]) == (case.status, case.priority)
    assert body["custom_fields"] == json.loads(case.row()["custom_fields"])
    assert body["description"] == case.description
    assert case.agent is not None
    assert (body["agent_id"], body["owner_id"]) == (case.agent.id, case.agent.id)
    assert body["requester_id"] == case.requester.id
    assert body["group_id"] == case.group.id
    assert [note["id"] for note in body["notes"]] == [note.id for note in case.notes]
    assert all(isinstance(note["public"], bool) for note in body["notes"])


def test_some_case_details_spell_notes_the_details_page_way(sandbox: Sandbox, get: Get) -> None:
    case = next(c for c in sandbox.data.cases if c.notes and "legacy_note_keys" in c.quirks)
    notes = get(f"/cm/core/va/cases/{case.id}").json()["notes"]
    assert set(notes[0]) == {"id", "note_title", "note_body", "public"}


@pytest.mark.parametrize("case_id", ["0", "10001", "007", "abc", "1.0"])
def test_unknown_case_ids_answer_404(get: Get, case_id: str) -> None:
    response = get(f"/cm/core/va/cases/{case_id}")
    assert response.status_code == 404
    assert response.json() == {"code": "1520008", "message": "Connection not found."}


def test_the_fields_endpoint_describes_every_custom_field_the_data_uses(
    sandbox: Sandbox, get: Get
) -> None:
    fields = get("/cm/meta/va/fields").json()
    assert isinstance(fields, list)
    by_key = {field["key"]: field for field in fields}
    used = {key for case in sandbox.data.cases for key in case.custom_fields}
    assert (
        used
        == set(by_key)
        == {
            "checkbox1",
            "dropdown1",
            "multi_select1",
            "text1",
            "numeric1",
            "date1",
        }
    )
    dropdown = by_key["dropdown1"]
    assert dropdown["name"] == "Product area"
    assert dropdown["dict_list"][0] == {"key": "001", "value": "Mobile app", "children": []}
    for field in fields:
        assert {"id", "key", "name", "type", "description", "dict_list", "required", "active",
                "created_at", "updated_at"} <= set(field)  # fmt: skip


def test_unknown_paths_answer_404_json(get: Get) -> None:
    for path in ("/", "/cm/core/va/cases/", "/cm/core/va/cases/1/notes", "/api/v2/cases"):
        response = get(path)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"].startswith("application/json")


def test_users_are_paged_with_the_documented_envelope(sandbox: Sandbox, get: Get) -> None:
    first = get("/users", {"per_page": 12}).json()
    assert (first["total"], first["count"], first["total_pages"]) == (30, 12, 3)
    assert {"self", "next", "first", "last", "show", "index"} <= set(first["_links"])
    last = get("/users", {"per_page": 12, "page": 3}).json()
    assert last["count"] == 6 and "next" not in last["_links"]
    ids = [user["id"] for page in (1, 2, 3) for user in
           get("/users", {"per_page": 12, "page": page}).json()["_embedded"]["users"]]  # fmt: skip
    assert ids == [agent.id for agent in sandbox.data.agents]
    assert get("/users").json()["per_page"] == 20


def test_users_filter_by_active_and_email(sandbox: Sandbox, get: Get) -> None:
    inactive = [agent for agent in sandbox.data.agents if not agent.active]
    body = get("/users", {"active": "false"}).json()
    assert [user["id"] for user in body["_embedded"]["users"]] == [a.id for a in inactive]
    agent = sandbox.data.agents[5]
    body = get("/users", {"email": agent.email.upper()}).json()
    assert [user["id"] for user in body["_embedded"]["users"]] == [agent.id]


@pytest.mark.parametrize(
    "params", [{"per_page": 201}, {"per_page": 0}, {"page": 0}, {"active": "maybe"}]
)
def test_users_reject_bad_paging_and_types(get: Get, params: dict[str, Any]) -> None:
    assert get("/users", params).status_code == 400


def test_one_user_by_id_and_404_for_strangers(sandbox: Sandbox, get: Get) -> None:
    agent = sandbox.data.agents[2]
    assert get(f"/users/{agent.id}").json()["email"] == agent.email
    assert get("/users/000000000000000000000000").status_code == 404


def test_users_me_names_the_token_owner(sandbox: Sandbox, sandbox_http: requests.Session) -> None:
    agent = sandbox.data.agents[7]
    token = sandbox.issue_tokens(user_id=agent.id)["access_token"]
    body = sandbox_http.get(
        f"{sandbox.base_url}/users/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert (body["id"], body["sub"], body["name"], body["email"]) == (
        agent.id,
        agent.id,
        agent.name,
        agent.email,
    )
