"""From a person, its owner and its Account to the Salesforce records that represent them."""

from __future__ import annotations

from typing import Any

from pipeline.accounts import AccountLink
from pipeline.field_mapping import FieldMapping
from pipeline.models import Person, SyncRecord

MAILING_STREET_MAX = 255

# A merged-away person never changes again: its marker outranks any version it had.
# (Below 2**53, so Redis's Lua numbers compare it exactly.)
MERGED_MARKER_VERSION = 10**12


def person_value(person: Person, name: str) -> str:
    if name == "street_with_building":
        street, building = person.get("street"), person.get("building")
        joined = "\n".join(part for part in (street, building) if part)
        return joined if len(joined) <= MAILING_STREET_MAX else street
    if name == "company_display":
        return person.get("company_name")
    if name == "exchange_date":
        return person.exchange_date
    if name == "card_ids":
        return ",".join(person.card_ids)
    return person.get(name)


def mapped_payload(person: Person, mapping: FieldMapping, sobject: str) -> dict[str, Any]:
    """The mapped fields with a value; blanks are left out so a write never clears a field."""
    payload: dict[str, Any] = {}
    for sf_field, value_name in mapping.fields_for(sobject):
        value = person_value(person, value_name)
        if value:
            payload[sf_field] = value
    return payload


def contact_record(
    person: Person,
    mapping: FieldMapping,
    *,
    external_id_field: str,
    owner_id: str,
    account: AccountLink | None,
    account_external_id_field: str,
    import_ids: tuple[str, ...] = (),
) -> SyncRecord:
    payload = mapped_payload(person, mapping, "Contact")
    payload["OwnerId"] = owner_id
    if account is not None:
        if account.account_id:
            payload["AccountId"] = account.account_id
        else:
            # A relationship reference by external ID: no need to know the new Account's Id yet.
            payload["Account"] = {account_external_id_field: account.external_id}
    return SyncRecord(
        sobject="Contact",
        external_id_field=external_id_field,
        external_id=person.person_key,
        payload=payload,
        person_key=person.person_key,
        card_ids=person.card_ids,
        import_ids=import_ids,
    )


def account_record(
    person: Person,
    mapping: FieldMapping,
    *,
    account: AccountLink,
    external_id_field: str,
    import_ids: tuple[str, ...] = (),
) -> SyncRecord:
    return SyncRecord(
        sobject="Account",
        external_id_field=external_id_field,
        external_id=account.external_id,
        payload=mapped_payload(person, mapping, "Account"),
        person_key=person.person_key,
        card_ids=(),
        import_ids=import_ids,
    )


def merged_marker_record(
    *, external_id_field: str, external_id: str, survivor: str, merged_into_field: str
) -> SyncRecord:
    """The update that marks a written person as merged into another: never two live Contacts.
    The only place a marker is built; it is written at MERGED_MARKER_VERSION."""
    return SyncRecord(
        sobject="Contact",
        external_id_field=external_id_field,
        external_id=external_id,
        payload={merged_into_field: survivor},
        person_key=external_id,
    )
