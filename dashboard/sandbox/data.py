"""The sandbox's data set: agents, requesters, custom fields and cases, generated from a seed.

Everything here is deterministic for a given ``(seed, cases, now)``: the same call always yields
the same records, so tests can compute true answers from :class:`SandboxData` and compare them
with what the HTTP API returns. Dates are relative to ``now`` (the server's start time).

Each case's list-row JSON is serialised once, here, because the list endpoint must answer a
500-row page in a few milliseconds: per request it only joins these pre-built byte strings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from types import MappingProxyType
from typing import Any, Final

STATUSES: Final = ("NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED")
PRIORITIES: Final = ("LOW", "NORMAL", "HIGH", "URGENT")
CASE_TYPES: Final = ("QUESTION", "INCIDENT", "PROBLEM", "TASK")
REQUESTER_TYPES: Final = ("AGENT", "CONTACT")

#: How the list endpoint spells enum values (talkdesk-api.md §2.2: list rows use the human
#: spellings, the details endpoint the upper-case ones).
LIST_SPELLING: Final[Mapping[str, str]] = MappingProxyType(
    {
        "NEW": "New",
        "OPEN": "Open",
        "PENDING": "Pending",
        "ON_HOLD": "On-hold",
        "RESOLVED": "Resolved",
        "CLOSED": "Closed",
        "LOW": "Low",
        "NORMAL": "Normal",
        "HIGH": "High",
        "URGENT": "Urgent",
        "QUESTION": "Question",
        "INCIDENT": "Incident",
        "PROBLEM": "Problem",
        "TASK": "Task",
    }
)

#: The account's configured "About" drop-down (talkdesk-api.md §2.2); each fits the 31-char limit.
ABOUT_VALUES: Final = (
    "Billing",
    "Payments",
    "Refunds",
    "Shipping & delivery",
    "Account access",
    "Technical issue",
    "Product question",
    "Cancellation",
)

#: Quirks: per-case deviations in how the row is written, so that a client parsing these rows
#: meets every shape the contract documents (talkdesk-api.md §3.2, §5.1, §8).
QUIRK_INTEGRATION_AS_STRING: Final = "integration_as_string"
QUIRK_LEGACY_NOTE_KEYS: Final = "legacy_note_keys"
QUIRK_EMPTY_AGENT: Final = "empty_agent"
QUIRK_NO_GROUP_NAME: Final = "no_group_name"
QUIRK_OFFSET_DATES: Final = "offset_dates"
QUIRK_MILLISECOND_DATES: Final = "millisecond_dates"

CASE_SPAN_DAYS: Final = 180
FIRST_NOTE_ID: Final = 10_000_001

CustomValue = bool | int | str | tuple[str, ...]


def format_instant(ts: int) -> str:
    """``2024-05-02T09:15:00Z``, the date-time spelling the Talkdesk curl sample uses."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Agent:
    """A Talkdesk user who works cases; the ``/users`` endpoints list these."""

    id: str
    name: str
    email: str
    group: Group
    active: bool
    gender: str
    extension: int
    external_phone_number: str
    created_at: str
    name_lower: str = field(init=False, repr=False, compare=False)
    email_lower: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_lower", self.name.lower())
        object.__setattr__(self, "email_lower", self.email.lower())


@dataclass(frozen=True, slots=True)
class Requester:
    """Who opened a case: a contact, or (``type == "AGENT"``) one of the agents."""

    id: str
    type: str
    name: str
    email: str | None
    phone: str | None
    integration: Mapping[str, str]
    name_lower: str = field(init=False, repr=False, compare=False)
    email_lower: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_lower", self.name.lower())
        object.__setattr__(self, "email_lower", (self.email or "").lower())


@dataclass(frozen=True, slots=True)
class FieldOption:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class CustomField:
    """One account-level custom case field, as ``GET /cm/meta/va/fields`` describes it."""

    id: str
    key: str
    name: str
    kind: str
    type_code: str
    description: str
    options: tuple[FieldOption, ...]
    required: bool
    active: bool
    created_at: str
    updated_at: str

    def label_for(self, value: CustomValue) -> Any:
        """The human label Talkdesk stores beside a value (option text for drop-downs)."""
        labels = {option.key: option.value for option in self.options}
        if self.kind == "dropdown":
            return labels.get(str(value))
        if self.kind == "multi_select":
            assert isinstance(value, tuple)
            return [labels.get(key) for key in value]
        if self.kind in {"checkbox", "date"}:
            return value
        return None


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    title: str
    body: str
    public: bool


@dataclass(frozen=True, slots=True)
class Case:
    """One case. Enum fields hold the API's upper-case spelling (``ON_HOLD``).

    ``create_ts``/``update_ts`` are epoch seconds. ``row_json`` is the case's list-row JSON,
    built once at generation time; the description and notes live only there (they are the
    bulk of a case, and keeping a second copy would break the 100,000-case memory budget), so
    :attr:`description` and :attr:`notes` decode it on access.
    """

    id: str
    title: str
    requester: Requester
    group: Group
    agent: Agent | None
    status: str
    priority: str
    type: str | None
    about: str | None
    create_ts: int
    update_ts: int
    custom_fields: Mapping[str, CustomValue]
    quirks: frozenset[str]
    title_lower: str
    description_lower: str
    row_json: bytes = field(repr=False, compare=False)

    def row(self) -> dict[str, Any]:
        """The list row, decoded."""
        decoded: dict[str, Any] = json.loads(self.row_json)
        return decoded

    @property
    def description(self) -> str:
        description: str = self.row()["description"]
        return description

    @property
    def notes(self) -> tuple[Note, ...]:
        return tuple(
            Note(
                id=note["id"],
                title=note.get("notes_title", note.get("note_title", "")),
                body=note.get("notes_body", note.get("note_body", "")),
                public=note["public"],
            )
            for note in self.row().get("notes", ())
        )

    @property
    def create_at(self) -> datetime:
        return datetime.fromtimestamp(self.create_ts, UTC)

    @property
    def update_at(self) -> datetime:
        return datetime.fromtimestamp(self.update_ts, UTC)

    @property
    def form_name(self) -> str:
        return "Refund Request Form" if self.about == "Refunds" else "Default Case Form"

    @property
    def resolution(self) -> str | None:
        if self.status not in {"RESOLVED", "CLOSED"}:
            return None
        return RESOLUTIONS[int(self.id) % len(RESOLUTIONS)]


@dataclass(frozen=True, slots=True)
class SandboxData:
    """The whole generated data set plus the look-ups and orderings the app needs.

    ``cases`` is in id order, which is also creation order; ``cases_by_update`` is ordered by
    update time, ties broken by id so that paging is stable.
    """

    seed: int
    now: datetime
    groups: tuple[Group, ...]
    agents: tuple[Agent, ...]
    requesters: tuple[Requester, ...]
    custom_fields: tuple[CustomField, ...]
    cases: tuple[Case, ...]
    cases_by_update: tuple[Case, ...] = field(init=False, repr=False, compare=False)
    agents_by_id: Mapping[str, Agent] = field(init=False, repr=False, compare=False)
    fields_by_key: Mapping[str, CustomField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_update = sorted(self.cases, key=lambda case: (case.update_ts, int(case.id)))
        object.__setattr__(self, "cases_by_update", tuple(by_update))
        object.__setattr__(self, "agents_by_id", {agent.id: agent for agent in self.agents})
        object.__setattr__(self, "fields_by_key", {cf.key: cf for cf in self.custom_fields})

    def case(self, case_id: str) -> Case | None:
        """The case with this id, or None. Ids are ``"1"``…``str(len(cases))``."""
        if not case_id.isascii() or not case_id.isdigit() or case_id.startswith("0"):
            return None
        index = int(case_id) - 1
        return self.cases[index] if index < len(self.cases) else None


# --- serialisation ------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row_instant(ts: int, quirks: frozenset[str]) -> str:
    # The OAS examples write "2022-09-08 06:46:00+00:00", the curl sample "…Z"; a few rows use
    # the other spellings so the client's date parsing is exercised on every documented form.
    moment = datetime.fromtimestamp(ts, UTC)
    if QUIRK_OFFSET_DATES in quirks:
        return moment.strftime("%Y-%m-%d %H:%M:%S+00:00")
    if QUIRK_MILLISECOND_DATES in quirks:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def custom_fields_object(
    case: Case, fields_by_key: Mapping[str, CustomField]
) -> dict[str, dict[str, Any]]:
    """The decoded ``custom_fields`` of a case: ``{key: {label, value, name}}``."""
    result: dict[str, dict[str, Any]] = {}
    for key, value in case.custom_fields.items():
        definition = fields_by_key[key]
        plain = list(value) if isinstance(value, tuple) else value
        result[key] = {
            "label": definition.label_for(value),
            "value": plain,
            "name": definition.name,
        }
    return result


def _notes(notes: Sequence[Note], *, legacy: bool) -> list[dict[str, Any]]:
    title_key, body_key = ("note_title", "note_body") if legacy else ("notes_title", "notes_body")
    return [
        {"id": note.id, title_key: note.title, body_key: note.body, "public": note.public}
        for note in notes
    ]


def _requester_fields(requester: Requester) -> dict[str, Any]:
    row: dict[str, Any] = {"requester_id": requester.id, "requester_name": requester.name}
    if requester.email is not None:
        row["requester_email"] = requester.email
    if requester.phone is not None:
        row["requester_phone"] = requester.phone
    return row


def list_row(
    case: Case,
    description: str,
    notes: Sequence[Note],
    fields_by_key: Mapping[str, CustomField],
) -> dict[str, Any]:
    """The case as ``GET /cm/core/va/cases`` writes it: Title-case enums, string custom fields."""
    quirks = case.quirks
    row: dict[str, Any] = {"id": case.id, "title": case.title, "description": description}
    row.update(_requester_fields(case.requester))
    integration = dict(case.requester.integration)
    row["requester_integration"] = (
        _compact(integration) if QUIRK_INTEGRATION_AS_STRING in quirks else integration
    )
    row["group_id"] = case.group.id
    if QUIRK_NO_GROUP_NAME not in quirks:
        row["group_name"] = case.group.name
    if case.agent is not None:
        row["agent_id"] = case.agent.id
        row["agent_name"] = case.agent.name
    elif QUIRK_EMPTY_AGENT in quirks:
        row["agent_id"] = ""
        row["agent_name"] = ""
    row["form_name"] = case.form_name
    row["priority"] = LIST_SPELLING[case.priority]
    row["status"] = LIST_SPELLING[case.status]
    if case.type is not None:
        row["type"] = LIST_SPELLING[case.type]
    if case.about is not None:
        row["about"] = case.about
    row["create_at"] = _row_instant(case.create_ts, quirks)
    row["update_at"] = _row_instant(case.update_ts, quirks)
    if case.custom_fields:
        row["custom_fields"] = _compact(custom_fields_object(case, fields_by_key))
    if notes:
        row["notes"] = _notes(notes, legacy=QUIRK_LEGACY_NOTE_KEYS in quirks)
    return row


def detail_row(case: Case, fields_by_key: Mapping[str, CustomField]) -> dict[str, Any]:
    """The case as ``GET /cm/core/va/cases/{id}`` writes it.

    Follows the DETAILS page (talkdesk-api.md §5.1): upper-case enums, ``custom_fields`` as an
    object, requester/group/agent fields; adds the OAS-only ``owner_id`` and ``resolution``.
    Notes keep the case's spelling (``notes_title`` on most cases, ``note_title`` on a few).
    """
    listed = case.row()
    row: dict[str, Any] = {"id": case.id, "title": case.title, "description": listed["description"]}
    row.update(_requester_fields(case.requester))
    row["requester_integration"] = dict(case.requester.integration)
    row["group_id"] = case.group.id
    row["group_name"] = case.group.name
    if case.agent is not None:
        row["agent_id"] = case.agent.id
        row["agent_name"] = case.agent.name
        row["owner_id"] = case.agent.id
    row["form_name"] = case.form_name
    row["priority"] = case.priority
    row["status"] = case.status
    if case.type is not None:
        row["type"] = case.type
    if case.about is not None:
        row["about"] = case.about
    if case.resolution is not None:
        row["resolution"] = case.resolution
    row["create_at"] = format_instant(case.create_ts)
    row["update_at"] = format_instant(case.update_ts)
    row["custom_fields"] = custom_fields_object(case, fields_by_key)
    row["notes"] = listed.get("notes", [])
    return row


# --- vocabulary ---------------------------------------------------------------------------

RESOLUTIONS: Final = (
    "Answered the question.",
    "Refund issued.",
    "Replacement shipped.",
    "Password reset completed.",
    "Fixed in release 4.2.",
    "Duplicate of another case.",
    "Customer stopped responding.",
)

GROUP_SLUGS: Final = ("billing", "tier-1", "tier-2", "returns", "onboarding", "vip")

#: Which groups usually handle which "About" value.
GROUPS_FOR_ABOUT: Final[Mapping[str | None, tuple[str, ...]]] = MappingProxyType(
    {
        "Billing": ("billing", "billing", "tier-1"),
        "Payments": ("billing", "tier-1"),
        "Refunds": ("returns", "billing"),
        "Shipping & delivery": ("returns", "tier-1"),
        "Account access": ("tier-1", "tier-1", "tier-2"),
        "Technical issue": ("tier-2", "tier-2", "tier-1"),
        "Product question": ("onboarding", "tier-1"),
        "Cancellation": ("billing", "onboarding"),
        None: GROUP_SLUGS,
    }
)

# (first name, ascii slug) so non-Latin names still get a plausible e-mail address.
FIRST_NAMES: Final = (
    ("Ana", "ana"), ("Lee", "lee"), ("Dana", "dana"), ("Sam", "sam"), ("Priya", "priya"),
    ("João", "joao"), ("Chloé", "chloe"), ("Mateo", "mateo"), ("Aisha", "aisha"),
    ("Kenji", "kenji"), ("Olga", "olga"), ("Liam", "liam"), ("Noor", "noor"), ("Ravi", "ravi"),
    ("Fatima", "fatima"), ("Tomás", "tomas"), ("Ingrid", "ingrid"), ("Wei", "wei"),
    ("Emma", "emma"), ("Lucas", "lucas"), ("Sofia", "sofia"), ("Mohammed", "mohammed"),
    ("Hannah", "hannah"), ("Yuki", "yuki"), ("Zoë", "zoe"), ("Carlos", "carlos"),
    ("Grace", "grace"), ("Oliver", "oliver"), ("Amara", "amara"), ("Nikolai", "nikolai"),
    ("Isabel", "isabel"), ("Ethan", "ethan"), ("Mia", "mia"), ("Daniel", "daniel"),
    ("Leila", "leila"), ("Pedro", "pedro"), ("Sara", "sara"), ("Jonas", "jonas"),
    ("Mei", "mei"), ("Kwame", "kwame"),
)  # fmt: skip
LAST_NAMES: Final = (
    ("Ruiz", "ruiz"), ("Park", "park"), ("Smith", "smith"), ("Roe", "roe"), ("Patel", "patel"),
    ("Silva", "silva"), ("Dubois", "dubois"), ("García", "garcia"), ("Okafor", "okafor"),
    ("Tanaka", "tanaka"), ("Ivanova", "ivanova"), ("O'Brien", "obrien"), ("Haddad", "haddad"),
    ("Kumar", "kumar"), ("Nielsen", "nielsen"), ("Costa", "costa"), ("Müller", "muller"),
    ("Chen", "chen"), ("Johnson", "johnson"), ("Moreau", "moreau"), ("Rossi", "rossi"),
    ("Khan", "khan"), ("Schmidt", "schmidt"), ("Sato", "sato"), ("Andersson", "andersson"),
    ("Lopez", "lopez"), ("Brown", "brown"), ("Wilson", "wilson"), ("Mensah", "mensah"),
    ("Petrov", "petrov"), ("Santos", "santos"), ("Nguyen", "nguyen"), ("Kowalski", "kowalski"),
    ("Van der Berg", "vanderberg"), ("Ferreira", "ferreira"), ("Ali", "ali"),
)  # fmt: skip
EMAIL_DOMAINS: Final = ("example.com", "example.org", "example.net", "mail.example")

#: (country code, digits after it) for E.164 numbers.
PHONE_PLANS: Final = (
    ("1", 10), ("1", 10), ("1", 10), ("1", 10), ("1", 10), ("1", 10),
    ("44", 10), ("351", 9), ("49", 11), ("33", 9), ("34", 9), ("61", 9),
)  # fmt: skip

#: Requesters whose names a careless export or template would mishandle; placed at the top of
#: the popularity ranking so they own many cases.
HOSTILE_REQUESTER_NAMES: Final = (
    '=HYPERLINK("https://evil.example/","Click me")',
    "+1 (555) 010-9999 Caller",
    "-Robert'); DROP TABLE cases;--",
    "@everyone",
    "<script>alert('name')</script>",
    "محمد الأحمد",
    "נועה לוי",
    "王小明",
    "Zoë 🦄 Ångström",
)
HOSTILE_REQUESTER_RANKS: Final = (2, 7, 15, 30, 50, 80, 120, 200, 300)

TITLES_FOR_ABOUT: Final[Mapping[str | None, tuple[str, ...]]] = MappingProxyType(
    {
        "Billing": (
            "Question about invoice #{invoice}",
            "Charged twice this month",
            "Invoice address needs updating",
            "Wrong VAT on invoice #{invoice}",
        ),
        "Payments": (
            "Card declined at checkout",
            "Payment pending for order {order}",
            "Can't add a new card",
            "Bank transfer not reflected",
        ),
        "Refunds": (
            "Refund not received for order {order}",
            "Partial refund request",
            "Refund issued to the wrong card",
        ),
        "Shipping & delivery": (
            "Package arrived damaged",
            "Order {order} stuck in transit",
            "Wrong item delivered",
            "Change delivery address for {order}",
        ),
        "Account access": (
            "Can't log in to my account",
            "Password reset email never arrives",
            "Two-factor code not accepted",
            "Account locked after update",
        ),
        "Technical issue": (
            "App crashes when uploading photos",
            "Sync fails with error 500",
            "Dashboard is very slow",
            "Export to CSV is empty",
        ),
        "Product question": (
            "How do I share a report?",
            "Is there a dark mode?",
            "Difference between Plus and Pro plans",
            "Does the API support webhooks?",
        ),
        "Cancellation": (
            "Cancel my subscription",
            "Please close my account",
            "Downgrade to the free plan",
        ),
        None: ("Follow-up", "General enquiry", "Callback request"),
    }
)

OPENINGS: Final = (
    "Hello,",
    "Hi team,",
    "Good morning,",
    "To whom it may concern,",
    "Hey there,",
)
SENTENCES: Final = (
    "I have been trying to sort this out for a few days now.",
    "This started right after the latest update.",
    "The order number is {order} if that helps.",
    "I already tried logging out and back in, without luck.",
    "My colleague sees the same problem on her laptop.",
    "Could you please look into it as soon as possible?",
    "I was told on the phone that someone would call me back.",
    "The amount on my statement does not match the receipt.",
    "I attached a screenshot of the error message.",
    "It works on the website but not in the mobile app.",
    "Nothing has changed on my side as far as I know.",
    "We are a small team and this blocks our daily work.",
    "The tracking page has said the same thing for a week.",
    "Please let me know if you need anything else from me.",
    "I would prefer a reply by e-mail rather than a call.",
    "This is the second time I am reporting this.",
)
CLOSINGS: Final = ("Thanks,", "Best regards,", "Cheers,", "Kind regards,", "Thank you!")

NOTE_TEXTS: Final = (
    ("Called back", "Left a voicemail, will try again tomorrow."),
    ("Escalated", "Escalated to tier-2 with logs attached."),
    ("Refund issued", "Refund of the full amount issued to the original card."),
    ("Waiting on customer", "Asked the customer for the order number."),
    ("Internal", "Looks related to the outage on Tuesday."),
    ("Follow-up", "Customer confirmed the fix works."),
    ("Shipping", "Carrier claim opened; replacement on its way."),
    ("Reminder", "Check again after the next billing run."),
)

PRODUCT_AREAS: Final = ("Mobile app", "Web app", "Billing portal", "Hardware", "API", "Other")
CHANNELS: Final = ("Email", "Phone", "Chat", "SMS", "Social")
FIELDS_CREATED_AT: Final = "2023-10-02T09:30:00Z"
OPTION_KEYS: Final = tuple(f"{n:03d}" for n in range(10))


def _custom_field_definitions() -> tuple[CustomField, ...]:
    # Talkdesk documents the type only as a code string ("001" on a drop-down in the OAS
    # example); the other codes here are ours. Clients should rely on the key prefix instead.
    def options(labels: Sequence[str]) -> tuple[FieldOption, ...]:
        return tuple(FieldOption(OPTION_KEYS[n], label) for n, label in enumerate(labels, 1))

    specs = (
        ("checkbox1", "VIP customer", "checkbox", "003", "Tick for customers on a VIP plan.", ()),
        (
            "dropdown1",
            "Product area",
            "dropdown",
            "001",
            "Which part of the product the case is about.",
            options(PRODUCT_AREAS),
        ),
        (
            "multi_select1",
            "Channels",
            "multi_select",
            "006",
            "Channels the customer used to reach us.",
            options(CHANNELS),
        ),
        ("text1", "Order number", "text", "002", "The customer's order reference.", ()),
        ("numeric1", "Refund amount", "numeric", "004", "Amount refunded, in whole euros.", ()),
        ("date1", "Follow-up date", "date", "005", "When to get back to the customer.", ()),
    )
    return tuple(
        CustomField(
            id=str(1397421734151344130 + index),
            key=key,
            name=name,
            kind=kind,
            type_code=code,
            description=description,
            options=opts,
            required=key == "dropdown1",
            active=True,
            created_at=FIELDS_CREATED_AT,
            updated_at=FIELDS_CREATED_AT,
        )
        for index, (key, name, kind, code, description, opts) in enumerate(specs)
    )


# --- generation ---------------------------------------------------------------------------


class _Generator:
    """Holds the RNG and the interning tables while one data set is built."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now_ts = int(now.timestamp())
        self._quirk_sets: dict[frozenset[str], frozenset[str]] = {}
        self._strings: dict[str, str] = {}
        self._empty_integration: Mapping[str, str] = MappingProxyType(
            {
                "integration_id": "",
                "external_id": "",
                "external_url": "",
                "contact_type": "",
                "external_sync_state": "",
            }
        )

    def object_id(self) -> str:
        """A 24-hex id shaped like the Talkdesk examples (``62ff04ae644bcb001ebbca67``)."""
        return f"{self.rng.getrandbits(96):024x}"

    def phone(self) -> str:
        country, digits = self.rng.choice(PHONE_PLANS)
        first = self.rng.randint(2, 9)
        rest = self.rng.randrange(10 ** (digits - 1))
        return f"+{country}{first}{rest:0{digits - 1}d}"

    def person_name(self) -> tuple[str, str, str]:
        first, first_slug = self.rng.choice(FIRST_NAMES)
        last, last_slug = self.rng.choice(LAST_NAMES)
        return f"{first} {last}", first_slug, last_slug

    def shared(self, text: str) -> str:
        """One copy of each short string: titles and one-line descriptions repeat a lot, and
        100,000 cases must fit the memory budget. Long texts are rarely equal; not worth it."""
        if len(text) > 100:
            return text
        return self._strings.setdefault(text, text)

    def intern_quirks(self, quirks: set[str]) -> frozenset[str]:
        frozen = frozenset(quirks)
        return self._quirk_sets.setdefault(frozen, frozen)

    # -- people --

    def groups(self) -> tuple[Group, ...]:
        return tuple(Group(id=slug, name=slug) for slug in GROUP_SLUGS)

    def agents(self, groups: Sequence[Group]) -> tuple[Agent, ...]:
        agents = []
        seen: set[str] = set()
        for index in range(30):
            while True:
                name, first_slug, last_slug = self.person_name()
                if name not in seen:
                    seen.add(name)
                    break
            created = self.now_ts - self.rng.randint(200, 900) * 86400
            agents.append(
                Agent(
                    id=self.object_id(),
                    name=name,
                    email=f"{first_slug}.{last_slug}@casebook-demo.example",
                    group=groups[index % len(groups)],
                    # Two agents have left: they still own old cases but cannot sign in.
                    active=index not in {13, 26},
                    gender=self.rng.choice(("Female", "Male", "Other")),
                    extension=100 + index,
                    external_phone_number=self.phone(),
                    created_at=format_instant(created),
                )
            )
        return tuple(agents)

    def requesters(self, count: int, agents: Sequence[Agent]) -> tuple[Requester, ...]:
        requesters: list[Requester] = []
        hostile = dict(zip(HOSTILE_REQUESTER_RANKS, HOSTILE_REQUESTER_NAMES, strict=True))
        agent_pool = list(agents)
        for rank in range(count):
            # About one in 150 requesters is an agent reporting an internal problem.
            if rank % 150 == 75 and agent_pool:
                agent = agent_pool.pop(self.rng.randrange(len(agent_pool)))
                requesters.append(
                    Requester(
                        id=agent.id,
                        type="AGENT",
                        name=agent.name,
                        email=agent.email,
                        phone=agent.external_phone_number,
                        integration=self._empty_integration,
                    )
                )
                continue
            name, first_slug, last_slug = self.person_name()
            name = hostile.get(rank, name)
            number = self.rng.randint(1, 999)
            email: str | None = f"{first_slug}.{last_slug}{number}@{self.rng.choice(EMAIL_DOMAINS)}"
            phone: str | None = self.phone()
            roll = self.rng.random()
            if roll < 0.08:
                email = None
            elif roll < 0.23:
                phone = None
            requester_id = self.object_id()
            integration = self._empty_integration
            if self.rng.random() < 0.2:
                external = f"0038d{self.rng.getrandbits(50):013X}"
                integration = {
                    "integration_id": "salesforce",
                    "external_id": external,
                    "external_url": f"https://acme.my.salesforce.example/{external}",
                    "contact_type": "contact",
                    "external_sync_state": f"1;{requester_id};2024-03-25T12:08:32Z;1;0",
                }
            requesters.append(
                Requester(
                    id=requester_id,
                    type="CONTACT",
                    name=name,
                    email=email,
                    phone=phone,
                    integration=integration,
                )
            )
        return tuple(requesters)

    # -- cases --

    def status_for_age(self, age_days: float) -> str:
        if age_days < 7:
            weights = (35, 30, 20, 5, 8, 2)
        elif age_days < 30:
            weights = (5, 20, 15, 8, 35, 17)
        else:
            weights = (1, 4, 3, 2, 40, 50)
        return self.rng.choices(STATUSES, weights)[0]

    def description(self, order: str, requester_name: str) -> str:
        shape = self.rng.random()
        if shape < 0.4:
            return self.rng.choice(SENTENCES).format(order=order)
        paragraphs = 1 if shape < 0.75 else (self.rng.randint(2, 3) if shape < 0.95 else 5)
        parts = [self.rng.choice(OPENINGS)]
        for _ in range(paragraphs):
            count = self.rng.randint(2, 4)
            parts.append(" ".join(s.format(order=order) for s in self.rng.sample(SENTENCES, count)))
        parts.append(f"{self.rng.choice(CLOSINGS)}\n{requester_name}")
        return "\n\n".join(parts)

    def custom_values(
        self, about: str | None, status: str, create_ts: int
    ) -> Mapping[str, CustomValue]:
        rng = self.rng
        if rng.random() < 0.03:
            return {}
        values: dict[str, CustomValue] = {}
        if rng.random() < 0.85:
            values["checkbox1"] = rng.random() < 0.12
        if rng.random() < 0.8:
            values["dropdown1"] = OPTION_KEYS[rng.randint(1, len(PRODUCT_AREAS))]
        if rng.random() < 0.6:
            picked = rng.sample(range(1, len(CHANNELS) + 1), rng.randint(1, 3))
            values["multi_select1"] = tuple(OPTION_KEYS[n] for n in sorted(picked))
        if about in {"Billing", "Payments", "Refunds", "Shipping & delivery", "Cancellation"}:
            if rng.random() < 0.7:
                values["text1"] = f"ORD-{rng.randint(100000, 999999)}"
            if about in {"Refunds", "Payments"} and rng.random() < 0.8:
                values["numeric1"] = rng.randint(5, 900)
        if status in {"OPEN", "PENDING", "ON_HOLD"} and rng.random() < 0.5:
            day = datetime.fromtimestamp(create_ts, UTC).date() + timedelta(rng.randint(1, 14))
            values["date1"] = self.shared(f"{day.isoformat()}T09:00:00Z")
        return values

    def notes(self, status: str, next_id: int) -> tuple[Note, ...]:
        most = 1 if status == "NEW" else 4
        count = min(self.rng.randint(0, most), self.rng.randint(0, most + 1))
        return tuple(
            Note(
                id=str(next_id + offset),
                title=(text := self.rng.choice(NOTE_TEXTS))[0],
                body=text[1],
                public=self.rng.random() < 0.7,
            )
            for offset in range(count)
        )

    def quirks(self, unassigned: bool) -> frozenset[str]:
        rng = self.rng
        quirks: set[str] = set()
        if rng.random() < 0.03:
            quirks.add(QUIRK_INTEGRATION_AS_STRING)
        if rng.random() < 0.03:
            quirks.add(QUIRK_LEGACY_NOTE_KEYS)
        if rng.random() < 0.03:
            quirks.add(QUIRK_NO_GROUP_NAME)
        if unassigned and rng.random() < 0.2:
            quirks.add(QUIRK_EMPTY_AGENT)
        roll = rng.random()
        if roll < 0.02:
            quirks.add(QUIRK_OFFSET_DATES)
        elif roll < 0.04:
            quirks.add(QUIRK_MILLISECOND_DATES)
        return self.intern_quirks(quirks)


def generate(seed: int = 42, cases: int = 10_000, now: datetime | None = None) -> SandboxData:
    """Build the data set: ``cases`` cases spread over the 180 days before ``now``."""
    if cases < 0:
        raise ValueError("cases must be zero or more")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    gen = _Generator(seed, moment)
    rng = gen.rng
    groups = gen.groups()
    groups_by_id = {group.id: group for group in groups}
    agents = gen.agents(groups)
    agents_by_group: dict[str, list[Agent]] = {group.id: [] for group in groups}
    for member in agents:
        agents_by_group[member.group.id].append(member)
    requesters = gen.requesters(max(20, cases * 3 // 10), agents)
    # Zipf-like popularity: the first requesters own many cases, most own one or none.
    requester_weights = list(accumulate(1.0 / (rank + 15) for rank in range(len(requesters))))
    custom_fields = _custom_field_definitions()
    fields_by_key = {cf.key: cf for cf in custom_fields}

    span = CASE_SPAN_DAYS * 86400
    # Volume grows towards the present, so ages are skewed towards recent.
    ages = sorted((int(span * rng.random() ** 1.25) for _ in range(cases)), reverse=True)
    hostile = _hostile_overrides(cases)
    built: list[Case] = []
    next_note_id = FIRST_NOTE_ID
    for index, age in enumerate(ages):
        create_ts = gen.now_ts - max(age, 60)
        age_days = age / 86400
        requester = rng.choices(requesters, cum_weights=requester_weights)[0]
        about = None if rng.random() < 0.05 else rng.choice(ABOUT_VALUES)
        case_type = None if rng.random() < 0.02 else rng.choices(CASE_TYPES, (45, 30, 15, 10))[0]
        priority = rng.choices(PRIORITIES, (20, 55, 18, 7))[0]
        status = gen.status_for_age(age_days)
        group = groups_by_id[rng.choice(GROUPS_FOR_ABOUT[about])]
        unassigned = rng.random() < (0.35 if status == "NEW" else 0.07)
        agent = None if unassigned else rng.choice(agents_by_group[group.id])
        if status == "NEW" and rng.random() < 0.7:
            update_ts = create_ts
        else:
            mean_hours = 6 if status in {"NEW", "OPEN"} else 40
            update_ts = min(gen.now_ts, create_ts + int(rng.expovariate(1 / mean_hours) * 3600))
        order = f"{rng.randint(100000, 999999)}"
        if requester.phone and rng.random() < 0.08:
            title = f"Inbound call with {requester.phone}"
            description = f"call_answered Contact Phone: {requester.phone}"
        else:
            title = rng.choice(TITLES_FOR_ABOUT[about]).format(
                order=order, invoice=rng.randint(1000, 9999)
            )
            description = gen.description(order, requester.name)
        title, description = hostile.get(index, (title, description))
        notes = gen.notes(status, next_note_id)
        next_note_id += len(notes)
        case = Case(
            id=str(index + 1),
            title=gen.shared(title),
            requester=requester,
            group=group,
            agent=agent,
            status=status,
            priority=priority,
            type=case_type,
            about=about,
            create_ts=create_ts,
            update_ts=update_ts,
            custom_fields=gen.custom_values(about, status, create_ts),
            quirks=gen.quirks(unassigned),
            title_lower=gen.shared(title.lower()),
            description_lower=gen.shared(description.lower()),
            row_json=b"",
        )
        row = _compact(list_row(case, description, notes, fields_by_key)).encode()
        object.__setattr__(case, "row_json", row)
        built.append(case)
    return SandboxData(
        seed=seed,
        now=moment,
        groups=groups,
        agents=agents,
        requesters=requesters,
        custom_fields=custom_fields,
        cases=tuple(built),
    )


LONG_DESCRIPTION: Final = (
    "The export keeps failing and I have tried everything I can think of. " * 30
)[:1986] + " (2,000 chars)"
LONG_TITLE: Final = (
    "Very long subject line from a customer who put the whole story in the title field: "
    "order late, refund missing, nobody answers the phone, please help!!"
)

#: (position from the newest case, title, description). Placed near the top of the default
#: (newest first) ordering so the demo's first page shows how the dashboard escapes them.
HOSTILE_CASES: Final = (
    (
        1,
        "<script>alert(1)</script> refund please",
        'My name is <img src=x onerror=alert(1)> and I want <b>my money</b> back. "Quotes" & '
        "'apostrophes' too.",
    ),
    (3, "Order stuck in transit 📦🚚", "荷物がまだ届きません。订单一直没有更新。🙏"),
    (6, "مشكلة في الفاتورة الشهرية", "تم خصم المبلغ مرتين من بطاقتي. Order ORD-554433."),
    (8, "בעיה בהתחברות לחשבון", "אני לא מצליח להתחבר מאז העדכון האחרון."),
    (10, "无法登录账户 – アカウントにログインできません", "密码重置邮件从未收到。"),
    (12, LONG_TITLE, "See title."),
    (15, "Export keeps failing", LONG_DESCRIPTION),
    (
        20,
        '=HYPERLINK("https://evil.example/","Open invoice")',
        "+cmd|' /C calc'!A0\n-2+3\n@SUM(1,1)",
    ),
    (25, "@SUM(1+1)*cmd|' /C calc'!A0", "-10+20 looks like a formula."),
    (30, "Invoice \u202efdp.exe attached", "</textarea><svg onload=alert(1)> and {{ 7*7 }}"),
    (40, "+44 line is dead", "-- dashes at the start"),
)


def _hostile_overrides(cases: int) -> dict[int, tuple[str, str]]:
    overrides = {}
    for from_newest, title, description in HOSTILE_CASES:
        index = cases - 1 - from_newest
        if index >= 0:
            overrides[index] = (title, description)
    # One more in the oldest cases so filters over old data also meet them.
    if cases > 100:
        overrides[0] = ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>")
    return overrides
