"""Bulk API 2.0 ingest jobs: states, CSV upload, and results as Salesforce returns them."""

from __future__ import annotations

import csv
import io

import pytest

from tests.emulator.conftest import Client, connect
from tests.waiting import wait_until


def create_job(client: Client, **overrides: str) -> dict:
    body = {
        "object": "Contact",
        "operation": "upsert",
        "externalIdFieldName": "Sansan_Person_Id__c",
        "contentType": "CSV",
        "lineEnding": "LF",
        **overrides,
    }
    response = client.call("POST", "jobs/ingest", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def upload(client: Client, job_id: str, text: str) -> int:
    headers = {**client.headers(), "Content-Type": "text/csv"}
    url = client.url(f"jobs/ingest/{job_id}/batches")
    return client.session.put(url, data=text.encode("utf-8"), headers=headers).status_code


def wait_done(client: Client, job_id: str) -> dict:
    def finished() -> dict | None:
        info = client.get(f"jobs/ingest/{job_id}").json()
        return info if info["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait_until(finished, timeout_s=10, what=f"bulk job {job_id} to finish")


def rows(client: Client, job_id: str, kind: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(client.get(f"jobs/ingest/{job_id}/{kind}").text)))


@pytest.fixture()
def client(emulator) -> Client:
    return connect(emulator)


def test_an_upsert_job_runs_through_its_states_and_reports_each_row(client, emulator):
    job = create_job(client)
    assert job["state"] == "Open" and job["id"].startswith("750")
    csv_text = (
        "Sansan_Person_Id__c,LastName,Email,Account.Sansan_Company_Key__c\n"
        "bk-1,Yamada,yamada@example.jp,\n"
        'bk-2,"Sato, Jr.",not-an-email,\n'
    )
    assert upload(client, job["id"], csv_text) == 201
    state = client.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert state.json()["state"] in ("UploadComplete", "InProgress")
    info = wait_done(client, job["id"])
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        1,
    )
    [ok] = rows(client, job["id"], "successfulResults")
    assert (ok["Sansan_Person_Id__c"], ok["sf__Created"]) == ("bk-1", "true")
    assert ok["sf__Id"].startswith("003")
    [failed] = rows(client, job["id"], "failedResults")
    assert failed["sf__Error"].startswith("INVALID_EMAIL_ADDRESS:")
    assert failed["Sansan_Person_Id__c"] == "bk-2"
    assert rows(client, job["id"], "unprocessedrecords") == []
    assert emulator.store.query_records("Contact", Sansan_Person_Id__c="bk-1")[0]["LastName"] == (
        "Yamada"
    )
    assert client.call("DELETE", f"jobs/ingest/{job['id']}").status_code == 204
    assert client.get(f"jobs/ingest/{job['id']}").status_code == 404


def test_an_aborted_job_leaves_its_rows_unprocessed(client, emulator):
    emulator.api.bulk.processing_delay_s = 0.3
    try:
        job = create_job(client)
        upload(client, job["id"], "Sansan_Person_Id__c,LastName\nab-1,Abe\n")
        client.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
        aborted = client.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "Aborted"})
        assert aborted.json()["state"] == "Aborted"
    finally:
        emulator.api.bulk.processing_delay_s = 0.0
    # The job's thread wakes after the delay, sees the abort and stops without writing.
    wait_until(lambda: not emulator.api.bulk.busy(), timeout_s=10, what="the job's thread")
    assert [r["Sansan_Person_Id__c"] for r in rows(client, job["id"], "unprocessedrecords")] == [
        "ab-1"
    ]
    assert emulator.store.query_records("Contact", Sansan_Person_Id__c="ab-1") == []


def test_job_errors_are_salesforce_errors(client):
    bad = client.call("POST", "jobs/ingest", json={"object": "Contact", "operation": "upsert"})
    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "INVALIDJOB")
    job = create_job(client)
    early = client.get(f"jobs/ingest/{job['id']}/successfulResults")
    assert early.status_code == 400
    assert client.get("jobs/ingest/750000000000000AAA").status_code == 404
