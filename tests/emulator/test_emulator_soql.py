"""SOQL over HTTPS through simple-salesforce: relationships, every operator, ordering, paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from emulators.salesforce.server import RunningEmulator

from .conftest import Client, content

PEOPLE = [
    {
        "Sansan_Person_Id__c": "soql-01",
        "LastName": "山田",
        "FirstName": "太郎",
        "Email": "yamada@example.co.jp",
        "Title": "部長",
        "Sansan_Exchange_Date__c": "2024-01-15",
    },
    {
        "Sansan_Person_Id__c": "soql-02",
        "LastName": "O'Brien",
        "FirstName": "Pat",
        "Email": "pat@example.com",
        "Title": "Director",
        "Sansan_Exchange_Date__c": "2024-03-01",
    },
    {
        "Sansan_Person_Id__c": "soql-03",
        "LastName": "Smith",
        "Title": "100% Sales",
        "Sansan_Exchange_Date__c": "2024-06-30",
    },
    {
        "Sansan_Person_Id__c": "soql-04",
        "LastName": "smithers",
        "FirstName": "Anna",
        "Title": "100 Sales_Lead",
        "Department": "back\\office",
    },
    {
        "Sansan_Person_Id__c": "soql-05",
        "LastName": "Tanaka",
        "FirstName": "Ken",
        "Email": "ken@example.jp",
        "Sansan_Exchange_Date__c": "2023-12-31",
    },
]
SCOPE = "Sansan_Person_Id__c LIKE 'soql-%'"


@pytest.fixture(scope="module", autouse=True)
def people(client: Client) -> None:
    body = {
        "allOrNone": True,
        "records": [{"attributes": {"type": "Contact"}, **p} for p in PEOPLE],
    }
    results = client.sf.restful(
        "composite/sobjects/Contact/Sansan_Person_Id__c", method="PATCH", json=body
    )
    assert all(r["success"] for r in results), results


def keys(client: Client, where: str, order: str = "Sansan_Person_Id__c") -> list[str]:
    soql = f"SELECT Sansan_Person_Id__c FROM Contact WHERE {SCOPE} AND ({where}) ORDER BY {order}"
    return [r["Sansan_Person_Id__c"] for r in client.sf.query_all(soql)["records"]]


def malformed(client: Client, soql: str) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        client.sf.query(soql)
    return content(raised.value)[0]


def test_user_query_nests_relationship_fields(client: Client) -> None:
    records = client.sf.query_all(
        "SELECT Id, Username, IsActive, Profile.UserLicense.Name FROM User"
    )["records"]
    by_name = {r["Username"]: r for r in records}
    tanaka = by_name["tanaka@example.co.jp"]
    assert tanaka["attributes"]["type"] == "User"
    assert tanaka["attributes"]["url"] == f"/services/data/v62.0/sobjects/User/{tanaka['Id']}"
    assert tanaka["Profile"]["attributes"]["type"] == "Profile"
    assert tanaka["Profile"]["UserLicense"]["attributes"]["type"] == "UserLicense"
    assert tanaka["Profile"]["UserLicense"]["Name"] == "Salesforce"
    assert list(tanaka["Profile"]) == ["attributes", "UserLicense"]
    assert by_name["ito@example.co.jp"]["Profile"]["UserLicense"]["Name"] == "Chatter Free"
    assert by_name["takahashi@example.co.jp"]["IsActive"] is False


def test_empty_lookup_comes_back_as_null(client: Client) -> None:
    record = client.sf.query(
        "SELECT Id, Account.Name, Owner.Username FROM Contact WHERE Sansan_Person_Id__c = 'soql-01'"
    )["records"][0]
    assert record["Account"] is None
    assert record["Owner"]["Username"] == "integration@cardsync.example"


def test_field_names_are_case_insensitive_and_answer_canonically(client: Client) -> None:
    record = client.sf.query(
        "select lastname, PROFILE.name from user where username = 'TANAKA@example.co.jp'"
    )["records"][0]
    assert record["LastName"] == "田中"
    assert record["Profile"]["Name"] == "Standard User"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName = 'smith'", ["soql-03"]),  # text equality ignores case
        ("LastName != 'Smith'", ["soql-01", "soql-02", "soql-04", "soql-05"]),
        ("LastName <> 'Smith'", ["soql-01", "soql-02", "soql-04", "soql-05"]),
        ("FirstName != 'Pat'", ["soql-01", "soql-03", "soql-04", "soql-05"]),  # nulls match !=
        ("FirstName = null", ["soql-03"]),
        ("FirstName != null", ["soql-01", "soql-02", "soql-04", "soql-05"]),
        ("Sansan_Exchange_Date__c < 2024-03-01", ["soql-01", "soql-05"]),
        ("Sansan_Exchange_Date__c <= 2024-03-01", ["soql-01", "soql-02", "soql-05"]),
        ("Sansan_Exchange_Date__c > 2024-03-01", ["soql-03"]),
        ("Sansan_Exchange_Date__c >= 2024-03-01", ["soql-02", "soql-03"]),
        ("Email IN ('PAT@example.com', 'ken@example.jp')", ["soql-02", "soql-05"]),
        ("Email NOT IN ('pat@example.com')", ["soql-01", "soql-03", "soql-04", "soql-05"]),
        ("Email IN ('pat@example.com', null)", ["soql-02", "soql-03", "soql-04"]),
        ("LastName LIKE 'smith%'", ["soql-03", "soql-04"]),
        ("LastName LIKE 'SMITH'", ["soql-03"]),
        ("LastName LIKE 'Smith_rs'", ["soql-04"]),
        ("LastName LIKE '%A%'", ["soql-05"]),
        ("Title LIKE '100\\%%'", ["soql-03"]),  # \% is a literal percent sign
        ("Title LIKE '%s\\_L%'", ["soql-04"]),  # \_ is a literal underscore
        ("LastName = 'O\\'Brien'", ["soql-02"]),
        ("Department = 'back\\\\office'", ["soql-04"]),
        ("LastName = '山田' OR LastName = 'Tanaka'", ["soql-01", "soql-05"]),
        ("LastName LIKE 'smith%' AND FirstName = 'Anna'", ["soql-04"]),
        ("NOT LastName LIKE 'smith%'", ["soql-01", "soql-02", "soql-05"]),
        ("NOT (FirstName = 'Anna')", ["soql-01", "soql-02", "soql-03", "soql-05"]),
        (
            "(LastName = 'Smith' OR LastName = 'Tanaka') AND (Email = null OR Title = null)",
            ["soql-03", "soql-05"],
        ),
        ("Sansan_Exchange_Date__c = null", ["soql-04"]),
    ],
)
def test_where_operators(client: Client, where: str, expected: list[str]) -> None:
    assert keys(client, where) == expected


def test_datetime_and_boolean_literals(client: Client) -> None:
    assert keys(client, "CreatedDate > 2000-01-01T00:00:00Z") == [
        p["Sansan_Person_Id__c"] for p in PEOPLE
    ]
    assert keys(client, "CreatedDate < 2000-01-01T09:00:00+09:00") == []
    inactive = client.sf.query("SELECT Username FROM User WHERE IsActive = false")["records"]
    assert [u["Username"] for u in inactive] == ["takahashi@example.co.jp"]


def test_order_by_limit_offset(client: Client) -> None:
    # Kanji sort after Latin letters, as in Salesforce.
    assert keys(client, "Id != null", "LastName DESC") == [
        "soql-01",
        "soql-05",
        "soql-04",
        "soql-03",
        "soql-02",
    ]
    assert keys(client, "Id != null", "FirstName ASC NULLS LAST, LastName") == [
        "soql-04",
        "soql-05",
        "soql-02",
        "soql-01",
        "soql-03",
    ]
    assert keys(client, "Id != null", "FirstName DESC NULLS FIRST LIMIT 2") == [
        "soql-03",
        "soql-01",
    ]
    assert keys(client, "Id != null", "LastName LIMIT 2 OFFSET 1") == ["soql-03", "soql-04"]


def test_count(client: Client) -> None:
    result = client.sf.query(f"SELECT COUNT() FROM Contact WHERE {SCOPE}")
    assert result["totalSize"] == 5 and result["records"] == []
    aggregate = client.sf.query(f"SELECT COUNT(Id) total FROM Contact WHERE {SCOPE}")
    assert aggregate["records"][0]["total"] == 5


@pytest.fixture()
def small_pages(emulator: RunningEmulator) -> Iterator[None]:
    emulator.config.page_size = 2
    yield
    emulator.config.page_size = 2000


@pytest.mark.usefixtures("small_pages")
def test_paging_with_query_all_and_next_records_url(
    client: Client, emulator: RunningEmulator
) -> None:
    soql = f"SELECT Id, Sansan_Person_Id__c FROM Contact WHERE {SCOPE} ORDER BY LastName"
    first = client.sf.query(soql)
    assert first["totalSize"] == 5 and first["done"] is False and len(first["records"]) == 2
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2")
    calls = emulator.api_calls()
    records = client.sf.query_all(soql)["records"]
    assert emulator.api_calls() - calls == 3
    assert [r["Sansan_Person_Id__c"] for r in records] == [
        "soql-02",
        "soql-03",
        "soql-04",
        "soql-05",
        "soql-01",
    ]
    assert len(list(client.sf.query_all_iter(soql))) == 5


def test_query_all_sees_deleted_records(client: Client) -> None:
    created = client.sf.Contact.create({"LastName": "Gone", "Sansan_Person_Id__c": "soql-gone"})
    client.sf.Contact.delete(created["id"])
    soql = "SELECT Id, IsDeleted FROM Contact WHERE Sansan_Person_Id__c = 'soql-gone'"
    assert client.sf.query(soql)["records"] == []
    deleted = client.sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(created["id"], True)]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND FirstName = 'b' OR Email = 'c'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Contact WHERE LastName = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id, Nope.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Sansan_Card_Ids__c = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Id FROM User WHERE IsActive = 'true'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE LastName = 5", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_query_errors(client: Client, soql: str, code: str) -> None:
    error = malformed(client, soql)
    assert error["errorCode"] == code
    assert error["message"]
