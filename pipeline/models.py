"""The domain's plain data: a card, a reject, a person after name-merge, a record to write."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from dataclasses import field as dataclass_field
from typing import Any

# Fields of a card that carry a person's attributes; survivorship works field by field on these.
PERSON_FIELDS: tuple[str, ...] = (
    "company_name",
    "department",
    "title",
    "last_name",
    "first_name",
    "last_name_reading",
    "first_name_reading",
    "email",
    "tel",
    "mobile",
    "fax",
    "url",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
)


@dataclass(frozen=True, slots=True)
class Card:
    """One business card, validated and trimmed, as it travels through the queues.

    Text fields are "" when blank, never None. `exchange_date` is ISO `YYYY-MM-DD` or "".
    `line` is the 1-based physical line of the row in its file (0 for API cards).
    """

    card_id: str
    person_id: str = ""  # Sansan's 人物ID / personId, when the source has it
    owner_id: str = ""
    owner_name: str = ""
    owner_email: str = ""
    company_name: str = ""
    department: str = ""
    title: str = ""
    last_name: str = ""
    first_name: str = ""
    last_name_reading: str = ""
    first_name_reading: str = ""
    email: str = ""
    tel: str = ""
    mobile: str = ""
    fax: str = ""
    url: str = ""
    postal_code: str = ""
    prefecture: str = ""
    city: str = ""
    street: str = ""
    building: str = ""
    exchange_date: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["tags"] = tuple(values.get("tags") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that could not become a card: where it was, which field, and why."""

    source: str
    line: int
    field: str
    reason: str
    card_id: str = ""
    raw: dict[str, str] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reject:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Person:
    """The merged view of all cards of one person: survivorship already applied."""

    person_key: str
    card_ids: tuple[str, ...]
    values: dict[str, str]  # PERSON_FIELDS -> surviving value
    owner_id: str  # Sansan owner of the newest card
    owner_name: str
    owner_email: str
    exchange_date: str  # newest exchange date among the cards

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """One Salesforce record to upsert by external ID, plus where it came from."""

    sobject: str
    external_id_field: str
    external_id: str
    payload: dict[str, Any]
    person_key: str = ""
    card_ids: tuple[str, ...] = ()
    import_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["card_ids"] = list(self.card_ids)
        data["import_ids"] = list(self.import_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncRecord:
        data = dict(data)
        data["card_ids"] = tuple(data.get("card_ids") or ())
        data["import_ids"] = tuple(data.get("import_ids") or ())
        return cls(**data)
