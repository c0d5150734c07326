"""Describe, single-record CRUD, upsert by external ID, references and validation errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from emulators.salesforce.schema import Schema, sobject, standard_objects, text
from emulators.salesforce.server import RunningEmulator

from .conftest import Client, connect, content
from .test_emulator_ids_tls import reference_checksum


def user_id(emulator: RunningEmulator, username: str) -> str:
    return emulator.store.query_records("User", Username=username)[0]["Id"]


def create_error(client: Client, sobject: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        getattr(client.sf, sobject).create(data)
    return content(raised.value)


def test_describe_reports_external_ids_and_lengths(client: Client) -> None:
    describe = client.sf.Contact.describe()
    assert describe["name"] == "Contact" and describe["keyPrefix"] == "003"
    fields = {f["name"]: f for f in describe["fields"]}
    person = fields["Sansan_Person_Id__c"]
    assert (person["externalId"], person["unique"], person["length"], person["type"]) == (
        True,
        True,
        64,
        "string",
    )
    assert fields["LastName"]["length"] == 80 and fields["LastName"]["nillable"] is False
    assert fields["Email"]["type"] == "email"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["Id"]["createable"] is False and fields["CreatedDate"]["updateable"] is False
    assert fields["Sansan_Card_Ids__c"]["length"] == 32000
    assert fields["Sansan_Exchange_Date__c"]["type"] == "date"
    account = {f["name"]: f for f in client.sf.Account.describe()["fields"]}
    assert account["Sansan_Company_Key__c"]["externalId"] is True
    names = [o["name"] for o in client.sf.describe()["sobjects"]]
    assert {"User", "Profile", "UserLicense", "Account", "Contact", "Lead"} <= set(names)
    assert client.sf.Lead.metadata()["objectDescribe"]["keyPrefix"] == "00Q"


def test_create_get_update_delete(client: Client) -> None:
    created = client.sf.Account.create({"Name": "株式会社テスト", "Phone": "03-0000-0000"})
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    record = client.sf.Account.get(account_id)
    assert record["Name"] == "株式会社テスト"
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v62.0/sobjects/Account/{account_id}",
    }
    assert set(client.sf.Account.get(account_id[:15])) == set(record)  # 15-char ids work
    partial = client.get(f"sobjects/Account/{account_id}", params={"fields": "name,Phone"})
    assert list(partial.json()) == ["attributes", "Name", "Phone"]

    assert client.sf.Account.update(account_id, {"Phone": None, "Website": "https://x.jp"}) == 204
    updated = client.sf.Account.get(account_id)
    assert updated["Phone"] is None and updated["Website"] == "https://x.jp"
    assert updated["LastModifiedDate"] >= record["LastModifiedDate"]

    assert client.sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        client.sf.Account.get(account_id)
    assert content(gone.value)[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as unknown:
        client.sf.Account.get("001" + account_id[3:15].swapcase())
    assert content(unknown.value)[0]["errorCode"] == "NOT_FOUND"


def test_ids_have_real_prefixes_and_checksums(emulator: RunningEmulator, client: Client) -> None:
    contact = client.sf.Contact.create({"LastName": "Prefix"})["id"]
    lead = client.sf.Lead.create({"LastName": "Prefix", "Company": "X"})["id"]
    account = client.sf.Account.create({"Name": "Prefix"})["id"]
    user = user_id(emulator, "tanaka@example.co.jp")
    profile = emulator.store.query_records("Profile", Name="Standard User")[0]["Id"]
    license_id = emulator.store.query_records("UserLicense", Name="Salesforce")[0]["Id"]
    for record_id, prefix in (
        (contact, "003"),
        (lead, "00Q"),
        (account, "001"),
        (user, "005"),
        (profile, "00e"),
        (license_id, "100"),
    ):
        assert len(record_id) == 18 and record_id.startswith(prefix)
        assert record_id[15:] == reference_checksum(record_id[:15])
    assert len({contact[3:], lead[3:], account[3:], user[3:]}) == 4


def test_upsert_by_external_id_creates_then_updates(client: Client) -> None:
    first = client.sf.Contact.upsert(
        "Sansan_Person_Id__c/rec-up-1", {"LastName": "鈴木", "FirstName": "花子"}, raw_response=True
    )
    assert first.status_code == 201
    body = first.json()
    assert body["created"] is True and body["success"] is True and body["errors"] == []
    second = client.sf.Contact.upsert(
        "Sansan_Person_Id__c/REC-UP-1", {"Title": "課長"}, raw_response=True
    )
    assert second.status_code == 200
    assert second.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    record = client.sf.Contact.get_by_custom_id("Sansan_Person_Id__c", "rec-up-1")
    assert (record["Id"], record["Title"], record["Name"]) == (body["id"], "課長", "鈴木 花子")
    with pytest.raises(SalesforceResourceNotFound):
        client.sf.Contact.get_by_custom_id("Sansan_Person_Id__c", "rec-up-missing")
    update_only = client.call(
        "PATCH",
        "sobjects/Contact/Sansan_Person_Id__c/rec-up-2",
        params={"updateOnly": "true"},
        json={"LastName": "X"},
    )
    assert update_only.status_code == 404
    not_external = client.call("PATCH", "sobjects/Contact/LastName/x", json={"Title": "x"})
    assert not_external.status_code == 404


def test_account_reference_by_external_id(emulator: RunningEmulator, client: Client) -> None:
    account = client.sf.Account.upsert(
        "Sansan_Company_Key__c/K-ref-1", {"Name": "参照株式会社"}, raw_response=True
    ).json()["id"]
    client.sf.Contact.upsert(
        "Sansan_Person_Id__c/rec-ref-1",
        {"LastName": "参照", "Account": {"Sansan_Company_Key__c": "K-ref-1"}},
    )
    contact = emulator.store.query_records("Contact", Sansan_Person_Id__c="rec-ref-1")[0]
    assert contact["AccountId"] == account
    with pytest.raises(SalesforceMalformedRequest) as raised:
        client.sf.Contact.upsert(
            "Sansan_Person_Id__c/rec-ref-2",
            {"LastName": "参照", "Account": {"Sansan_Company_Key__c": "abc"}},
        )
    assert content(raised.value) == [
        {
            "message": "Foreign key external ID: abc not found for field Sansan_Company_Key__c in "
            "entity Account",
            "errorCode": "INVALID_FIELD",
            "fields": [],
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as not_indexed:
        client.sf.Contact.create({"LastName": "x", "Account": {"Name": "参照株式会社"}})
    assert content(not_indexed.value)[0]["errorCode"] == "INVALID_FIELD"
    owner = client.sf.Contact.create(
        {"LastName": "Owned", "Owner": {"Username": "sato@example.co.jp"}}
    )
    assert client.sf.Contact.get(owner["id"])["OwnerId"] == user_id(emulator, "sato@example.co.jp")


def test_reference_and_owner_checks(emulator: RunningEmulator, client: Client) -> None:
    contact = client.sf.Contact.create({"LastName": "Ref"})["id"]
    cases = [
        ({"AccountId": "garbage"}, "MALFORMED_ID"),
        ({"AccountId": contact}, "FIELD_INTEGRITY_EXCEPTION"),
        ({"AccountId": "001" + contact[3:]}, "INVALID_CROSS_REFERENCE_KEY"),
        ({"OwnerId": "005" + contact[3:]}, "INVALID_CROSS_REFERENCE_KEY"),
        ({"OwnerId": user_id(emulator, "takahashi@example.co.jp")}, "INACTIVE_OWNER_OR_USER"),
        (
            {"OwnerId": user_id(emulator, "ito@example.co.jp")},
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        ),
        (
            {"OwnerId": user_id(emulator, "watanabe@example.co.jp")},
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        ),
    ]
    for data, code in cases:
        errors = create_error(client, "Contact", {"LastName": "Ref", **data})
        assert errors[0]["errorCode"] == code, (data, errors)
    tanaka = user_id(emulator, "Tanaka@example.co.jp")
    created = client.sf.Contact.create({"LastName": "Ref", "OwnerId": tanaka.lower()})
    assert client.sf.Contact.get(created["id"])["OwnerId"] == tanaka


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": ""}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", ["LastName"]),
        (
            {"LastName": "x", "MailingPostalCode": "1" * 21},
            "STRING_TOO_LONG",
            ["MailingPostalCode"],
        ),
        ({"LastName": "x", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "x", "Email": "a@b"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "x", "Nope__c": "1"}, "INVALID_FIELD", []),
        (
            {"LastName": "x", "CreatedDate": "2024-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["CreatedDate"],
        ),
        ({"LastName": "x", "Name": "x"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
        ({"LastName": "x", "Birthdate": "yesterday"}, "JSON_PARSER_ERROR", None),
    ],
)
def test_validation_errors(
    client: Client, data: dict[str, Any], code: str, fields: list[str] | None
) -> None:
    errors = create_error(client, "Contact", data)
    assert errors[0]["errorCode"] == code
    assert errors[0].get("fields") == fields
    assert errors[0]["message"]


def test_validation_messages(client: Client) -> None:
    errors = create_error(client, "Lead", {"FirstName": "x" * 41})
    by_code = {e["errorCode"]: e for e in errors}
    assert by_code["REQUIRED_FIELD_MISSING"]["message"] == (
        "Required fields are missing: [LastName, Company]"
    )
    assert by_code["STRING_TOO_LONG"]["message"] == (
        f"First Name: data value too large: {'x' * 41} (max length=40)"
    )
    lead = client.sf.Lead.create({"LastName": "Lead", "Company": "会社"})
    assert client.sf.Lead.get(lead["id"])["Status"] == "Open - Not Contacted"


def test_unique_external_id_rejects_duplicates(client: Client) -> None:
    client.sf.Contact.create({"LastName": "Dup", "Sansan_Person_Id__c": "rec-dup-1"})
    errors = create_error(
        client, "Contact", {"LastName": "Dup", "Sansan_Person_Id__c": "REC-DUP-1"}
    )
    assert errors[0]["errorCode"] == "DUPLICATE_VALUE"
    other = client.sf.Contact.create({"LastName": "Dup2"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        client.sf.Contact.update(other, {"Sansan_Person_Id__c": "rec-dup-1"})


def test_unknown_sobject_and_id_types(client: Client) -> None:
    response = client.call("POST", "sobjects/Nope__c", json={"Name": "x"})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_TYPE"
    contact = client.sf.Contact.create({"LastName": "Typed"})["id"]
    assert client.call("GET", f"sobjects/Account/{contact}").status_code == 404
    assert client.call("PATCH", f"sobjects/Account/{contact}", json={}).status_code == 404
    assert client.call("DELETE", "sobjects/Contact/garbage").status_code == 404
    assert client.call("POST", "sobjects/Contact", data="{not json").status_code == 400
    user = client.call("DELETE", f"sobjects/User/{client.token['id'].rsplit('/', 1)[1]}")
    assert user.status_code == 400
    assert user.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_deleting_an_account_deletes_its_contacts(
    emulator: RunningEmulator, client: Client
) -> None:
    account = client.sf.Account.create({"Name": "Cascade"})["id"]
    contact = client.sf.Contact.create({"LastName": "Child", "AccountId": account})["id"]
    child = client.sf.Account.create({"Name": "Child Co", "ParentId": account})["id"]
    client.sf.Account.delete(account)
    assert emulator.store.query_records("Contact", include_deleted=True, Id=contact)[0]["IsDeleted"]
    assert emulator.store.query_records("Account", Id=child)[0]["ParentId"] is None


def test_non_unique_external_id_answers_300(start: Callable[..., RunningEmulator]) -> None:
    # The schema is data: an extra object with a non-unique external ID is one declaration.
    badge = sobject("Badge__c", "a01", [text("Name", 80), text("Code__c", 20, external_id=True)])
    emulator = start(schema=Schema([*standard_objects(), badge]))
    client = connect(emulator)
    client.sf.Badge__c.create({"Name": "one", "Code__c": "B"})
    client.sf.Badge__c.create({"Name": "two", "Code__c": "b"})
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        client.sf.Badge__c.upsert("Code__c/B", {"Name": "three"})
    assert len(content(raised.value)) == 2
    assert content(raised.value)[0].startswith("/services/data/v62.0/sobjects/Badge__c/a01")
    with pytest.raises(SalesforceMoreThanOneRecord):
        client.sf.Badge__c.get_by_custom_id("Code__c", "B")
    assert client.sf.query("SELECT COUNT() FROM Badge__c WHERE Code__c = 'b'")["totalSize"] == 2


def test_owner_defaults_to_the_caller_and_cannot_be_cleared(
    emulator: RunningEmulator, client: Client
) -> None:
    created = client.sf.Contact.create({"LastName": "Owner", "OwnerId": None})
    integration = client.token["id"].rsplit("/", 1)[1]
    assert client.sf.Contact.get(created["id"])["OwnerId"] == integration
    with pytest.raises(SalesforceMalformedRequest) as raised:
        client.sf.Contact.update(created["id"], {"OwnerId": None})
    assert content(raised.value)[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    tanaka = user_id(emulator, "tanaka@example.co.jp")
    assert client.sf.Contact.update(created["id"], {"OwnerId": tanaka}) == 204
    described = {f["name"]: f for f in client.sf.Contact.describe()["fields"]}
    assert described["OwnerId"]["nillable"] is False
