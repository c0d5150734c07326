"""The emulated org's metadata: sObjects and their fields, declared as data so more are easy to add.

To add an object, build it with `sobject(...)` from the field helpers below and pass it to
`Schema([*standard_objects(), my_object])`; the store creates its table and indexes, describe,
SOQL and validation pick it up from here. Seeds load objects in this order, parents first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """Describe's `type` values for the field kinds the emulator knows."""

    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    PICKLIST = "picklist"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    INT = "int"
    DOUBLE = "double"
    REFERENCE = "reference"


TEXT_TYPES = frozenset(
    {
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.PICKLIST,
    }
)
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})
# Salesforce refuses to filter or sort on long text areas; anything longer than this is "long".
_LONG_TEXT = 255

_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.INT: "xsd:int",
    FieldType.DOUBLE: "xsd:double",
}


def _label_from_name(name: str) -> str:
    base = name.removesuffix("__c")
    if base.endswith("Id") and len(base) > 2 and not base.endswith("_Id"):
        base = base[:-2] + " ID"
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base.replace("_", " "))
    return " ".join(words.split())


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field as describe reports it, plus the behaviour the store needs (defaults, cascade)."""

    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    required: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    # Usable to identify a record (e.g. User.Username), like an external ID in a reference.
    id_lookup: bool = False
    createable: bool = True
    updateable: bool = True
    reference_to: str | None = None
    relationship_name: str | None = None
    default: Any = None
    # The record owner (OwnerId): must be an active user whose license can own records, and
    # is the authenticated user when a create leaves it out.
    owner: bool = False
    # Deleting the referenced record deletes this one too; otherwise the reference is cleared.
    cascade_delete: bool = False
    # A read-only field the store computes by joining these fields with a space (Name).
    compound_of: tuple[str, ...] = ()
    picklist_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", _label_from_name(self.name))

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_id(self) -> bool:
        return self.type in ID_TYPES

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def nillable(self) -> bool:
        if self.required or self.owner:
            return False
        return self.type not in (FieldType.BOOLEAN, FieldType.ID)

    @property
    def defaulted_on_create(self) -> bool:
        return (
            self.default is not None
            or self.owner
            or self.type == FieldType.BOOLEAN
            or not self.createable
        )

    @property
    def filterable(self) -> bool:
        return not (self.type == FieldType.TEXTAREA and self.length > _LONG_TEXT)

    @property
    def sortable(self) -> bool:
        return self.filterable

    @property
    def sql_type(self) -> str:
        if self.type in (FieldType.BOOLEAN, FieldType.INT):
            return "INTEGER"
        if self.type == FieldType.DOUBLE:
            return "REAL"
        return "TEXT"

    @property
    def collation(self) -> str:
        """SQLite collation for comparisons: SOQL compares text case-insensitively."""
        return "NOCASE" if self.is_text and not self.case_sensitive else "BINARY"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type.value,
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": 0,
            "scale": 0,
            "digits": 9 if self.type == FieldType.INT else 0,
            "externalId": self.external_id,
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "idLookup": self.id_lookup or self.type == FieldType.ID,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.defaulted_on_create,
            "defaultValue": self.default,
            "calculated": bool(self.compound_of),
            "custom": self.custom,
            "filterable": self.filterable,
            "sortable": self.sortable,
            "groupable": self.filterable and self.type != FieldType.DOUBLE,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "cascadeDelete": self.cascade_delete,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "value": value,
                }
                for value in self.picklist_values
            ],
        }


@dataclass(frozen=True)
class SObjectDef:
    """One sObject: its name, key prefix, what the API may do with it, and its fields."""

    name: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    label: str = ""
    label_plural: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _by_name: dict[str, FieldDef] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", _label_from_name(self.name))
        if not self.label_plural:
            object.__setattr__(self, "label_plural", self.label + "s")
        object.__setattr__(self, "_by_name", {f.name.lower(): f for f in self.fields})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name},
        )
        if len(self._by_name) != len(self.fields):
            raise ValueError(f"{self.name} declares a field twice")

    def field(self, name: str) -> FieldDef | None:
        """The field called `name`, matched case-insensitively as Salesforce does."""
        return self._by_name.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship is called `name` (Account -> AccountId)."""
        return self._by_relationship.get(name.lower())

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def unique_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.unique]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}

    def describe_basic(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "queryable": True,
            "retrieveable": True,
            "searchable": False,
            "layoutable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        return {
            **self.describe_basic(version),
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [],
        }


class Schema:
    """All sObjects of the org, looked up by name (case-insensitively) or by key prefix."""

    def __init__(self, objects: Iterable[SObjectDef]) -> None:
        self._objects: dict[str, SObjectDef] = {}
        self._by_prefix: dict[str, SObjectDef] = {}
        for obj in objects:
            if obj.name.lower() in self._objects or obj.key_prefix in self._by_prefix:
                raise ValueError(f"{obj.name}: name or key prefix {obj.key_prefix} used twice")
            self._objects[obj.name.lower()] = obj
            self._by_prefix[obj.key_prefix] = obj
        for obj in self._objects.values():
            for f in obj.fields:
                if f.reference_to and f.reference_to.lower() not in self._objects:
                    raise ValueError(f"{obj.name}.{f.name} references unknown {f.reference_to}")

    def __iter__(self) -> Iterator[SObjectDef]:
        return iter(self._objects.values())

    def get(self, name: str) -> SObjectDef | None:
        return self._objects.get(name.lower())

    def by_prefix(self, prefix: str) -> SObjectDef | None:
        return self._by_prefix.get(prefix)

    def referencing(self, target: str) -> list[tuple[SObjectDef, FieldDef]]:
        """Every (object, reference field) that points at `target`."""
        return [
            (obj, f)
            for obj in self._objects.values()
            for f in obj.fields
            if f.reference_to == target
        ]


# Field helpers: one line per field in the object declarations below.


def text(name: str, length: int, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.STRING, length=length, **options)


def textarea(name: str, length: int, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.TEXTAREA, length=length, **options)


def email(name: str, length: int = 80, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.EMAIL, length=length, **options)


def phone(name: str, length: int = 40, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.PHONE, length=length, **options)


def url(name: str, length: int = 255, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.URL, length=length, **options)


def checkbox(name: str, default: bool = False, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.BOOLEAN, default=default, **options)


def date(name: str, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.DATE, **options)


def datetime_field(name: str, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.DATETIME, **options)


def number(name: str, **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.INT, **options)


def picklist(name: str, values: tuple[str, ...], **options: Any) -> FieldDef:
    return FieldDef(name, FieldType.PICKLIST, length=255, picklist_values=values, **options)


def lookup(name: str, to: str, relationship: str, **options: Any) -> FieldDef:
    return FieldDef(
        name,
        FieldType.REFERENCE,
        length=18,
        reference_to=to,
        relationship_name=relationship,
        **options,
    )


def system_fields() -> tuple[FieldDef, ...]:
    """The audit fields every record has; none of them is writable through the API."""
    return (
        FieldDef(
            "Id", FieldType.ID, label="Record ID", length=18, createable=False, updateable=False
        ),
        checkbox("IsDeleted", label="Deleted", createable=False, updateable=False),
        datetime_field("CreatedDate", createable=False, updateable=False),
        lookup("CreatedById", "User", "CreatedBy", createable=False, updateable=False),
        datetime_field("LastModifiedDate", createable=False, updateable=False),
        lookup("LastModifiedById", "User", "LastModifiedBy", createable=False, updateable=False),
        datetime_field(
            "SystemModstamp", label="System Modstamp", createable=False, updateable=False
        ),
    )


def sobject(name: str, key_prefix: str, fields: Iterable[FieldDef], **options: Any) -> SObjectDef:
    """An sObject with the system fields first, then `fields`."""
    return SObjectDef(name, key_prefix, (*system_fields(), *fields), **options)


def full_name(**options: Any) -> FieldDef:
    # Family name first, as Salesforce formats names for an org with a Japanese locale.
    return FieldDef(
        "Name",
        FieldType.STRING,
        label="Full Name",
        length=121,
        createable=False,
        updateable=False,
        compound_of=("LastName", "FirstName"),
        **options,
    )


LICENSE_NAMES = ("Salesforce", "Salesforce Platform", "Chatter Free", "Chatter External")
# Users on these licenses cannot own CRM records such as Contacts, Accounts and Leads.
NON_OWNER_LICENSES = frozenset({"Chatter Free", "Chatter External"})
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)


def standard_objects() -> list[SObjectDef]:
    """UserLicense, Profile, User, Account, Contact and Lead with the fields cardsync uses."""
    user_license = sobject(
        "UserLicense",
        "100",
        [
            text("Name", 80, required=True),
            text("LicenseDefinitionKey", 40),
            text("Status", 40),
            number("TotalLicenses"),
            number("UsedLicenses"),
        ],
        label="User License",
        createable=False,
        updateable=False,
        deletable=False,
    )
    profile = sobject(
        "Profile",
        "00e",
        [
            text("Name", 255, required=True),
            lookup(
                "UserLicenseId",
                "UserLicense",
                "UserLicense",
                required=True,
                label="User License ID",
            ),
            picklist("UserType", ("Standard", "CsnOnly", "PowerPartner")),
        ],
        createable=False,
        updateable=False,
        deletable=False,
    )
    user = sobject(
        "User",
        "005",
        [
            text("Username", 80, required=True, unique=True, id_lookup=True),
            email("Email", 128, required=True),
            text("FirstName", 40),
            text("LastName", 80, required=True),
            full_name(),
            text("Alias", 8),
            text("CommunityNickname", 40),
            checkbox("IsActive", default=True, label="Active"),
            lookup("ProfileId", "Profile", "Profile", required=True, label="Profile ID"),
            lookup("ManagerId", "User", "Manager"),
            text("Title", 80),
            text("Department", 80),
            text("CompanyName", 80),
            phone("Phone"),
            phone("MobilePhone"),
            text("FederationIdentifier", 512, id_lookup=True),
            text("EmployeeNumber", 20),
            picklist(
                "TimeZoneSidKey", ("Asia/Tokyo", "America/Los_Angeles", "GMT"), default="Asia/Tokyo"
            ),
            picklist("LocaleSidKey", ("ja_JP", "en_US"), default="ja_JP"),
            picklist("LanguageLocaleKey", ("ja", "en_US"), default="ja"),
            picklist("EmailEncodingKey", ("UTF-8", "ISO-2022-JP"), default="UTF-8"),
        ],
        deletable=False,
    )
    account = sobject(
        "Account",
        "001",
        [
            text("Name", 255, required=True, label="Account Name"),
            text(
                "Sansan_Company_Key__c",
                255,
                external_id=True,
                unique=True,
                label="Sansan Company Key",
            ),
            url("Website"),
            phone("Phone"),
            phone("Fax"),
            text("BillingPostalCode", 20),
            text("BillingState", 80),
            text("BillingCity", 40),
            textarea("BillingStreet", 255),
            text("BillingCountry", 80),
            number("NumberOfEmployees", label="Employees"),
            textarea("Description", 32000),
            lookup("ParentId", "Account", "Parent", label="Parent Account ID"),
            lookup("OwnerId", "User", "Owner", owner=True),
            text("Sansan_Merged_Into__c", 255, label="Sansan Merged Into"),
        ],
    )
    contact = sobject(
        "Contact",
        "003",
        [
            text("LastName", 80, required=True),
            text("FirstName", 40),
            full_name(),
            email("Email", 80),
            phone("Phone"),
            phone("MobilePhone"),
            phone("Fax"),
            text("Title", 128),
            text("Department", 80),
            text("MailingPostalCode", 20),
            text("MailingState", 80),
            text("MailingCity", 40),
            textarea("MailingStreet", 255),
            text("MailingCountry", 80),
            date("Birthdate"),
            textarea("Description", 32000),
            lookup("AccountId", "Account", "Account", cascade_delete=True),
            lookup("OwnerId", "User", "Owner", owner=True),
            text(
                "Sansan_Person_Id__c", 64, external_id=True, unique=True, label="Sansan Person Id"
            ),
            text("Sansan_Merged_Into__c", 64, label="Sansan Merged Into"),
            text("Sansan_Last_Name_Kana__c", 80, label="Sansan Last Name Kana"),
            text("Sansan_First_Name_Kana__c", 80, label="Sansan First Name Kana"),
            date("Sansan_Exchange_Date__c", label="Sansan Exchange Date"),
            textarea("Sansan_Card_Ids__c", 32000, label="Sansan Card Ids"),
        ],
    )
    lead = sobject(
        "Lead",
        "00Q",
        [
            text("LastName", 80, required=True),
            text("FirstName", 40),
            full_name(),
            text("Company", 255, required=True),
            email("Email", 80),
            phone("Phone"),
            phone("MobilePhone"),
            text("Title", 128),
            url("Website"),
            text("PostalCode", 20),
            text("State", 80),
            text("City", 40),
            textarea("Street", 255),
            picklist("Status", LEAD_STATUSES, required=True, default=LEAD_STATUSES[0]),
            checkbox("IsConverted", label="Converted", createable=False, updateable=False),
            lookup("OwnerId", "User", "Owner", owner=True),
            text(
                "Sansan_Person_Id__c", 64, external_id=True, unique=True, label="Sansan Person Id"
            ),
            text("Sansan_Merged_Into__c", 64, label="Sansan Merged Into"),
        ],
    )
    return [user_license, profile, user, account, contact, lead]


def standard_schema() -> Schema:
    return Schema(standard_objects())
