"""The generated data set: deterministic, realistic in its mix, hostile in a few places."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from dashboard.sandbox.data import ABOUT_VALUES, CASE_SPAN_DAYS, generate
from dashboard.sandbox.server import Sandbox

FIXED_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_the_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    first = generate(seed=7, cases=300, now=FIXED_NOW)
    again = generate(seed=7, cases=300, now=FIXED_NOW)
    other = generate(seed=8, cases=300, now=FIXED_NOW)
    assert [c.row_json for c in first.cases] == [c.row_json for c in again.cases]
    assert first.agents == again.agents and first.requesters == again.requesters
    assert [c.row_json for c in first.cases] != [c.row_json for c in other.cases]


def test_dates_are_relative_to_the_start_time() -> None:
    data = generate(seed=7, cases=300, now=FIXED_NOW)
    start = FIXED_NOW - timedelta(days=CASE_SPAN_DAYS)
    assert data.now == FIXED_NOW
    assert all(start <= c.create_at <= c.update_at <= FIXED_NOW for c in data.cases)


def test_ids_are_numeric_strings_from_one_in_creation_order(sandbox: Sandbox) -> None:
    cases = sandbox.data.cases
    assert [c.id for c in cases] == [str(n) for n in range(1, len(cases) + 1)]
    assert all(a.create_ts <= b.create_ts for a, b in zip(cases, cases[1:], strict=False))


def test_people_come_in_realistic_numbers(sandbox: Sandbox) -> None:
    data = sandbox.data
    assert len(data.agents) == 30
    assert len(data.groups) == 6
    assert len({agent.group for agent in data.agents}) == 6
    assert len(data.requesters) == 3000
    kinds = Counter(requester.type for requester in data.requesters)
    assert 0 < kinds["AGENT"] < 50 < kinds["CONTACT"]
    for requester in data.requesters:
        assert requester.email or requester.phone
        assert requester.phone is None or re.fullmatch(r"\+[1-9]\d{7,14}", requester.phone)
    per_requester = Counter(case.requester.id for case in data.cases)
    assert per_requester.most_common(1)[0][1] >= 50
    assert sum(1 for n in per_requester.values() if n == 1) > 500


def test_cases_have_a_plausible_mix(sandbox: Sandbox) -> None:
    cases = sandbox.data.cases
    now = sandbox.data.now.timestamp()
    old = [c for c in cases if now - c.create_ts > 30 * 86400]
    recent = [c for c in cases if now - c.create_ts < 7 * 86400]
    assert sum(c.status in {"RESOLVED", "CLOSED"} for c in old) / len(old) > 0.8
    assert sum(c.status in {"NEW", "OPEN", "PENDING"} for c in recent) / len(recent) > 0.7
    assert any(c.status == "ON_HOLD" for c in recent)
    assert Counter(c.priority for c in cases).most_common(1)[0][0] == "NORMAL"
    unassigned = sum(c.agent is None for c in cases) / len(cases)
    assert 0.05 < unassigned < 0.15
    assert {c.about for c in cases} == {*ABOUT_VALUES, None}
    assert all(len(value) <= 31 for value in ABOUT_VALUES)
    note_counts = Counter(len(c.notes) for c in cases[-500:])
    assert set(note_counts) <= {0, 1, 2, 3, 4} and len(note_counts) >= 4
    lengths = [len(c.description) for c in cases[-500:]]
    assert min(lengths) < 80 and max(lengths) > 600


def test_a_few_values_are_hostile_on_purpose(sandbox: Sandbox) -> None:
    cases = sandbox.data.cases
    titles = [c.title for c in cases]
    descriptions = [c.description for c in cases[-60:]]
    assert any("<script>" in t for t in titles)
    assert any("onerror=" in d for d in descriptions)
    assert max(len(t) for t in titles) == 150
    assert max(len(d) for d in descriptions) == 2000
    assert any(t.startswith(("=", "+", "-", "@")) for t in titles)
    assert any(re.search("[\u0600-\u06ff]", t) for t in titles)  # Arabic
    assert any(re.search("[\u0590-\u05ff]", t) for t in titles)  # Hebrew
    assert any(re.search("[\u4e00-\u9fff]", t) for t in titles)  # CJK
    assert any(re.search("[\U0001f300-\U0001faff]", t) for t in titles)  # emoji
    names = {c.requester.name for c in cases}
    assert {"=", "+", "-", "@"} <= {name[0] for name in names}


def test_custom_field_values_fit_their_definitions(sandbox: Sandbox) -> None:
    definitions = sandbox.data.fields_by_key
    for case in sandbox.data.cases[:2000]:
        for key, value in case.custom_fields.items():
            definition = definitions[key]
            options = {option.key for option in definition.options}
            if definition.kind == "checkbox":
                assert isinstance(value, bool)
            elif definition.kind == "dropdown":
                assert value in options
            elif definition.kind == "multi_select":
                assert isinstance(value, tuple) and set(value) <= options
            elif definition.kind == "numeric":
                assert isinstance(value, int)
            elif definition.kind == "date":
                assert isinstance(value, str)
                datetime.fromisoformat(value)
        if case.custom_fields:
            decoded = json.loads(case.row()["custom_fields"])
            assert decoded.keys() == case.custom_fields.keys()


def test_a_tiny_data_set_still_works() -> None:
    assert generate(cases=0).cases == ()
    small = generate(cases=5, now=FIXED_NOW)
    assert [c.id for c in small.cases] == ["1", "2", "3", "4", "5"]
