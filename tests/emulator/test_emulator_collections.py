"""sObject Collections: per-record results, allOrNone, limits, speed and concurrent upserts."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from emulators.salesforce.server import RunningEmulator

from .conftest import Client, connect, content

UPSERT = "composite/sobjects/Contact/Sansan_Person_Id__c"


def contact(key: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, "Sansan_Person_Id__c": key, **fields}


def upsert(client: Client, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    return client.sf.restful(
        UPSERT, method="PATCH", json={"allOrNone": all_or_none, "records": records}
    )


def test_upsert_reports_each_record(emulator: RunningEmulator, client: Client) -> None:
    client.sf.Contact.upsert("Sansan_Person_Id__c/col-1", {"LastName": "既存"})
    results = upsert(
        client,
        [
            contact("col-1", LastName="更新"),
            contact("col-2", LastName="新規", Email="new@example.co.jp"),
            contact("col-3", FirstName="名前だけ"),
            contact("col-4", LastName="x" * 81),
            contact("col-5", LastName="y", Email="not-an-email"),
            contact("col-6", LastName="z", Account={"Sansan_Company_Key__c": "missing"}),
        ],
    )
    assert [r["success"] for r in results] == [True, True, False, False, False, False]
    assert results[0]["created"] is False and results[1]["created"] is True
    assert results[0]["id"].startswith("003") and results[0]["errors"] == []
    assert results[2] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert results[3]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[3]["errors"][0]["fields"] == ["LastName"]
    assert results[4]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert results[5]["errors"][0]["statusCode"] == "INVALID_FIELD"
    stored = {
        r["Sansan_Person_Id__c"]: r
        for r in emulator.store.soql(
            "SELECT Sansan_Person_Id__c, LastName FROM Contact "
            "WHERE Sansan_Person_Id__c LIKE 'col-%'"
        )
    }
    assert sorted(stored) == ["col-1", "col-2"]
    assert stored["col-1"]["LastName"] == "更新"


def test_all_or_none_rolls_everything_back(emulator: RunningEmulator, client: Client) -> None:
    results = upsert(
        client,
        [
            contact("aon-1", LastName="A"),
            contact("aon-2"),
            contact("aon-3", LastName="C"),
        ],
        all_or_none=True,
    )
    assert [r["success"] for r in results] == [False, False, False]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    for index in (0, 2):
        assert results[index]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert (
        emulator.store.soql("SELECT Id FROM Contact WHERE Sansan_Person_Id__c LIKE 'aon-%'") == []
    )
    ok = upsert(client, [contact("aon-1", LastName="A")], all_or_none=True)
    assert ok[0]["success"] is True and ok[0]["created"] is True


def test_duplicate_external_ids_in_one_request_fail(client: Client) -> None:
    results = upsert(
        client,
        [
            contact("dup-1", LastName="A"),
            contact("DUP-1", LastName="B"),
            contact("dup-2", LastName="C"),
        ],
    )
    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"


def test_create_update_delete_and_retrieve(emulator: RunningEmulator, client: Client) -> None:
    created = client.sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "Name": "コレクション株式会社"},
                {"attributes": {"type": "Contact"}, "LastName": "コレクション"},
                {"attributes": {"type": "Contact"}, "FirstName": "必須なし"},
            ]
        },
    )
    assert [r["success"] for r in created] == [True, True, False]
    assert "created" not in created[0]
    account_id, contact_id = created[0]["id"], created[1]["id"]

    updated = client.sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "id": contact_id, "AccountId": account_id},
                {"attributes": {"type": "Contact"}, "LastName": "no id"},
                {"attributes": {"type": "Contact"}, "Id": contact_id[:15], "Title": "係長"},
            ]
        },
    )
    assert [r["success"] for r in updated] == [True, False, True]
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    [record] = emulator.store.query_records("Contact", Id=contact_id)
    assert (record["AccountId"], record["Title"]) == (account_id, "係長")

    fetched = client.sf.restful(
        "composite/sobjects/Contact",
        params={"ids": f"{contact_id},{account_id}", "fields": "Id,Title"},
    )
    assert fetched[0]["Title"] == "係長" and fetched[1] is None

    deleted = client.sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{contact_id},{contact_id},garbage"}
    )
    assert [r["success"] for r in deleted] == [True, False, False]
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert deleted[2]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_more_than_200_records_is_refused(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        upsert(client, [contact(f"big-{i}", LastName="x") for i in range(201)])
    assert content(raised.value)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_request_level_errors(client: Client) -> None:
    with pytest.raises(SalesforceMalformedRequest) as wrong_type:
        upsert(client, [{"attributes": {"type": "Lead"}, "Sansan_Person_Id__c": "t"}])
    assert content(wrong_type.value)[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as bad_value:
        upsert(client, [contact("bad-date", LastName="x", Sansan_Exchange_Date__c="32/13")])
    assert content(bad_value.value)[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_a_200_record_upsert_takes_milliseconds(emulator: RunningEmulator, client: Client) -> None:
    records = [
        contact(
            f"speed-{i}",
            LastName=f"速度{i}",
            FirstName="テスト",
            Email=f"speed{i}@example.co.jp",
            Phone="03-1111-2222",
            MailingState="東京都",
            MailingCity="千代田区",
            Sansan_Exchange_Date__c="2024-04-01",
        )
        for i in range(200)
    ]
    upsert(client, records)  # warm up: creates
    began = time.perf_counter()
    results = upsert(client, records)
    elapsed = time.perf_counter() - began
    assert all(r["success"] and r["created"] is False for r in results)
    assert elapsed < 0.5, f"200-record upsert took {elapsed * 1000:.0f} ms"


def test_concurrent_upserts_never_duplicate_external_ids(emulator: RunningEmulator) -> None:
    keys = [f"conc-{i}" for i in range(60)]
    clients = [connect(emulator) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    failures: list[Any] = []

    def work(client: Client, offset: int) -> None:
        barrier.wait()
        for start in range(0, len(keys), 20):
            # Each thread walks the keys from a different point, so they collide constantly.
            chunk = [keys[(offset * 7 + start + i) % len(keys)] for i in range(20)]
            results = upsert(client, [contact(k, LastName=f"T{offset}") for k in chunk])
            failures.extend(r for r in results if not r["success"])

    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    rows = emulator.store.soql(
        "SELECT Sansan_Person_Id__c FROM Contact WHERE Sansan_Person_Id__c LIKE 'conc-%'"
    )
    assert sorted(r["Sansan_Person_Id__c"] for r in rows) == sorted(keys)
