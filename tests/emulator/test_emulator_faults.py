"""Fault injection: each failure answers as Salesforce would, on demand and reproducibly."""

from __future__ import annotations

import pytest
import requests

from emulators.salesforce.faults import FaultSettings, parse_error_rate, parse_record_fault
from tests.emulator.conftest import connect, https_session
from tests.waiting import wait_until

UPSERT = "composite/sobjects/Contact/Sansan_Person_Id__c"


def contacts(*names: str) -> dict:
    return {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Contact"}, "LastName": name, "Sansan_Person_Id__c": name}
            for name in names
        ],
    }


def test_error_rate_answers_with_the_status_and_body_of_the_error_code(start):
    emu = start(faults={"error_rates": {"SERVER_UNAVAILABLE": 1.0}})
    client = connect(emu)
    response = client.get("limits")
    assert response.status_code == 503
    assert response.json() == [
        {
            "message": "Server unavailable; please try again later.",
            "errorCode": "SERVER_UNAVAILABLE",
        }
    ]
    emu.faults.update(error_rates={"UNABLE_TO_LOCK_ROW": 1.0})
    response = client.call("PATCH", UPSERT, json=contacts("lock1"))
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, "UNABLE_TO_LOCK_ROW")
    assert emu.store.query_records("Contact", Sansan_Person_Id__c="lock1") == []


def test_the_same_seed_fails_the_same_calls(start):
    outcomes = []
    for _ in range(2):
        emu = start(faults={"seed": 7, "error_rates": {"SERVER_UNAVAILABLE": 0.3}})
        client = connect(emu)
        outcomes.append([client.get("limits").status_code for _ in range(30)])
    assert outcomes[0] == outcomes[1]
    assert 3 <= outcomes[0].count(503) <= 20
    assert set(outcomes[0]) == {200, 503}


def test_matching_records_fail_and_the_others_are_written(start):
    emu = start(faults={"record_failures": [{"field": "LastName", "value": "Bad"}]})
    client = connect(emu)
    results = client.call("PATCH", UPSERT, json=contacts("ok1", "Bad", "ok2")).json()
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2]["created"] is True
    assert emu.store.query_records("Contact", Sansan_Person_Id__c="Bad") == []
    assert len(emu.store.query_records("Contact", Sansan_Person_Id__c="ok2")) == 1


def test_sessions_expire_once_after_n_calls(start):
    emu = start(faults={"expire_sessions_after": 2})
    client = connect(emu)
    assert [client.get("limits").status_code for _ in range(3)] == [200, 200, 401]
    assert client.get("limits").json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert connect(emu).get("limits").status_code == 200  # a new login works, and stays valid
    assert emu.faults.counts()["session_expiry"] == 1


def test_limit_episode_answers_request_limit_exceeded_then_ends(start):
    emu = start()
    client = connect(emu)
    emu.faults.limit_episode(0.3)
    response = client.get("limits")
    assert (response.status_code, response.json()[0]["errorCode"]) == (
        403,
        "REQUEST_LIMIT_EXCEEDED",
    )
    wait_until(
        lambda: client.get("limits").status_code == 200, timeout_s=10, what="the episode to end"
    )


def test_a_limit_episode_can_start_after_n_calls(start):
    emu = start(faults={"limit_episode_after": 2, "limit_episode_length_s": 0.3})
    client = connect(emu)
    assert [client.get("limits").status_code for _ in range(4)] == [200, 200, 403, 403]
    wait_until(
        lambda: client.get("limits").status_code == 200, timeout_s=10, what="the episode to end"
    )
    assert [client.get("limits").status_code for _ in range(3)] == [200, 200, 200]  # once only


def test_dropped_connection_has_no_answer_but_the_write_happened(start):
    emu = start(faults={"drop_rate": 1.0})
    client = connect(emu)
    with pytest.raises(requests.ConnectionError):
        client.call("PATCH", UPSERT, json=contacts("dropped1"))
    assert len(emu.store.query_records("Contact", Sansan_Person_Id__c="dropped1")) == 1


def test_slow_response_runs_past_the_client_timeout(start):
    emu = start(faults={"slow_rate": 1.0, "slow_ms": 600})
    client = connect(emu)
    with pytest.raises(requests.Timeout):
        client.get("limits", timeout=0.2)


def test_admin_endpoint_reads_changes_and_clears_faults(start):
    emu = start()
    session = https_session(emu)
    url = f"{emu.url}/__admin/faults"
    answer = session.post(url, json={"error_rates": {"SERVER_UNAVAILABLE": 1.0}, "seed": 3})
    assert answer.status_code == 200
    assert answer.json()["settings"]["error_rates"] == {"SERVER_UNAVAILABLE": 1.0}
    assert connect(emu).get("limits").status_code == 503
    assert session.get(url).json()["injected"]["SERVER_UNAVAILABLE"] == 1
    assert session.post(url, json={"error_rates": {"NOPE": 1}}).status_code == 400
    assert session.delete(url).json()["settings"]["error_rates"] == {}
    assert connect(emu).get("limits").status_code == 200
    calls = emu.api_calls()
    session.get(url)
    assert emu.api_calls() == calls  # the admin endpoint is not an API call


def test_flag_values_parse():
    assert parse_error_rate("server_unavailable=0.1") == ("SERVER_UNAVAILABLE", 0.1)
    fault = parse_record_fault("Email=x@y.z:invalid_email_address")
    assert (fault.field, fault.value, fault.error_code) == (
        "Email",
        "x@y.z",
        "INVALID_EMAIL_ADDRESS",
    )
    assert parse_record_fault("LastName=Long").error_code == "STRING_TOO_LONG"
    with pytest.raises(ValueError):
        FaultSettings.from_dict(
            {"error_rates": {"SERVER_UNAVAILABLE": 0.8, "UNKNOWN_EXCEPTION": 0.5}}
        )


def test_a_duplicate_rule_refuses_a_new_record_and_names_the_match(start):
    emu = start()
    emu.config.duplicate_rules = [{"sobject": "Contact", "field": "Email", "action": "block"}]
    client = connect(emu)
    existing = client.call(
        "POST", "sobjects/Contact", json={"LastName": "Mori", "Email": "mori@example.jp"}
    ).json()["id"]
    body = {
        "records": [
            {
                "attributes": {"type": "Contact"},
                "LastName": "Mori",
                "Email": "mori@example.jp",
                "Sansan_Person_Id__c": "dup-1",
            }
        ]
    }
    headers = {**client.headers(), "Sforce-Duplicate-Rule-Header": "includeRecordDetails=true"}
    [item] = client.session.patch(client.url(UPSERT), json=body, headers=headers).json()
    assert item["success"] is False
    error = item["errors"][0]
    assert error["statusCode"] == "DUPLICATES_DETECTED"
    [match] = error["duplicateResult"]["matchResults"][0]["matchRecords"]
    assert match["record"]["Id"] == existing
    # without includeRecordDetails the match is not named
    [item] = client.call("PATCH", UPSERT, json=body).json()
    assert item["errors"][0]["duplicateResult"]["matchResults"][0]["matchRecords"] == []
    # an alert-level rule lets allowSave=true save the record
    emu.config.duplicate_rules = [{"sobject": "Contact", "field": "Email", "action": "alert"}]
    headers["Sforce-Duplicate-Rule-Header"] = "allowSave=true; includeRecordDetails=true"
    [item] = client.session.patch(client.url(UPSERT), json=body, headers=headers).json()
    assert item["success"] is True


def test_cli_flags_start_an_emulator_with_faults(ca_dir, monkeypatch):
    from typer.testing import CliRunner

    import emulators.cli

    seen = {}

    def fake_run(**options):
        seen.update(options)

    monkeypatch.setattr(emulators.cli, "run_salesforce", fake_run)
    result = CliRunner().invoke(
        emulators.cli.emulator_app,
        [
            "salesforce",
            "--error-rate",
            "SERVER_UNAVAILABLE=0.1",
            "--error-rate",
            "UNABLE_TO_LOCK_ROW=0.05",
            "--fail-record",
            "LastName=Long",
            "--slow-rate",
            "0.2",
            "--slow-ms",
            "3000",
            "--expire-sessions-after",
            "50",
            "--drop-rate",
            "0.01",
            "--fault-seed",
            "9",
        ],
    )
    assert result.exit_code == 0, result.output
    faults = seen["faults"]
    assert faults.error_rates == {"SERVER_UNAVAILABLE": 0.1, "UNABLE_TO_LOCK_ROW": 0.05}
    assert faults.record_failures[0].error_code == "STRING_TOO_LONG"
    assert (faults.slow_rate, faults.slow_ms, faults.expire_sessions_after) == (0.2, 3000, 50)
    assert (faults.drop_rate, faults.seed) == (0.01, 9)
    bad = CliRunner().invoke(emulators.cli.emulator_app, ["salesforce", "--error-rate", "NOPE=1"])
    assert bad.exit_code == 2
