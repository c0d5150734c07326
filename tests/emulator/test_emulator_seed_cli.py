"""Default org and seed files, persistence across restarts, dump, and the `emulator` CLI."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulators.cli import emulator_app, run_salesforce
from emulators.salesforce.credentials import INTEGRATION_USERNAME
from emulators.salesforce.seed import default_seed
from emulators.salesforce.server import RunningEmulator

from .conftest import connect, request_token


def test_default_org(emulator: RunningEmulator) -> None:
    users = {
        u["Username"]: u
        for u in emulator.store.soql(
            "SELECT Username, Email, IsActive, Profile.Name, Profile.UserLicense.Name FROM User"
        )
    }
    assert len(users) == len(default_seed()["User"]) == 10
    licenses = {name: u["Profile"]["UserLicense"]["Name"] for name, u in users.items()}
    assert licenses["ito@example.co.jp"] == "Chatter Free"
    assert licenses["watanabe@example.co.jp"] == "Chatter External"
    assert licenses["kobayashi@example.co.jp"] == "Salesforce Platform"
    assert users[INTEGRATION_USERNAME]["Profile"]["Name"] == "System Administrator"
    assert users["takahashi@example.co.jp"]["IsActive"] is False
    assert users["Yamamoto@Example.co.jp"]["Email"] == "yamamoto@example.co.jp"
    seeded = [a["Name"] for a in default_seed()["Account"]]
    accounts = [a for a in emulator.store.query_records("Account") if a["Name"] in seeded]
    assert sorted(a["Name"] for a in accounts) == sorted(seeded)
    assert "株式会社サンプル商事" in seeded
    assert all(a["Sansan_Company_Key__c"] is None for a in accounts)
    owners = {a["Name"]: a["OwnerId"] for a in accounts}
    integration = emulator.store.query_records("User", Username=INTEGRATION_USERNAME)[0]
    tanaka = emulator.store.query_records("User", Username="tanaka@example.co.jp")[0]
    assert owners["株式会社サンプル商事"] == integration["Id"]
    assert owners["大阪物産株式会社"] == tanaka["Id"]


def test_seed_file(start: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "User": [
                    {
                        "Username": "rep@example.jp",
                        "Email": "rep@example.jp",
                        "LastName": "営業",
                        "FirstName": "一号",
                        "IsActive": True,
                        "LicenseName": "Salesforce",
                        "Password": "pw",
                    },
                    {
                        "Username": "free@example.jp",
                        "Email": "free@example.jp",
                        "LastName": "無料",
                        "IsActive": True,
                        "LicenseName": "Chatter Free",
                    },
                ],
                "Account": [{"Name": "シード株式会社", "Sansan_Company_Key__c": "K-seed"}],
                "Contact": [
                    {
                        "LastName": "連絡",
                        "Account": {"Sansan_Company_Key__c": "K-seed"},
                        "Owner": {"Username": "rep@example.jp"},
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    emulator = start(seed=seed)
    usernames = {u["Username"] for u in emulator.store.query_records("User")}
    assert usernames == {INTEGRATION_USERNAME, "rep@example.jp", "free@example.jp"}
    [contact] = emulator.store.soql(
        "SELECT Account.Name, Owner.Username, Owner.Profile.UserLicense.Name FROM Contact"
    )
    assert contact["Account"]["Name"] == "シード株式会社"
    assert contact["Owner"]["Username"] == "rep@example.jp"
    password_login = request_token(
        emulator,
        grant_type="password",
        client_id="cardsync-demo",
        client_secret="cardsync-demo-secret",
        username="rep@example.jp",
        password="pw",
    )
    assert password_login.status_code == 200


def test_bad_seed_is_refused(start: Callable[..., RunningEmulator]) -> None:
    with pytest.raises(ValueError, match="Nope"):
        start(seed={"Nope": [{"Name": "x"}]})
    with pytest.raises(ValueError, match="REQUIRED_FIELD_MISSING"):
        start(seed={"Account": [{"Phone": "1"}]})


def test_state_survives_a_restart(start: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    state = tmp_path / "org.sqlite"
    first = start(state=state)
    created = connect(first).sf.Contact.create({"LastName": "永続", "Sansan_Person_Id__c": "p-1"})
    first.stop()
    second = start(state=state, seed={"User": []})  # an existing state is never re-seeded
    client = connect(second)
    record = client.sf.Contact.get_by_custom_id("Sansan_Person_Id__c", "p-1")
    assert record["Id"] == created["id"]
    assert len(second.store.query_records("User")) == 10
    newer = client.sf.Contact.create({"LastName": "次"})["id"]
    assert newer != created["id"]


def test_dump_writes_json_lines(emulator: RunningEmulator, tmp_path: Path) -> None:
    counts = emulator.dump(tmp_path / "dump")
    assert counts["User"] == 10 and counts["UserLicense"] == 4
    lines = (tmp_path / "dump" / "Contact.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == counts["Contact"] == emulator.store.count("Contact")
    users = [
        json.loads(line)
        for line in (tmp_path / "dump" / "User.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert all(u["Id"].startswith("005") and "attributes" not in u for u in users)
    assert {u["Username"] for u in users} >= {INTEGRATION_USERNAME}


def test_cli_help() -> None:
    result = CliRunner().invoke(emulator_app, ["salesforce", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--state", "--latency-ms", "--data-dir"):
        assert option in result.output
    assert CliRunner().invoke(emulator_app, ["--help"]).exit_code == 0


def test_foreground_runner_stops_on_event(ca_dir: Path) -> None:
    lines: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    runner = threading.Thread(
        target=run_salesforce,
        kwargs={"port": 0, "data_dir": ca_dir, "stop": stop, "echo": lines.put},
    )
    runner.start()
    banner = lines.get(timeout=10)
    url = banner.splitlines()[0].rsplit(" ", 1)[1]
    assert f"CARDSYNC_SALESFORCE__LOGIN_URL={url}" in banner
    assert "CARDSYNC_SALESFORCE__CA_BUNDLE=" in banner
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
    assert "stopped" in lines.get(timeout=1)


def test_cli_process_serves_until_sigterm(ca_dir: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-c",
            "from emulators.cli import emulator_app; emulator_app()",
            "salesforce",
            "--port",
            "0",
            "--data-dir",
            str(ca_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Salesforce emulator listening on https://127.0.0.1:"), first
        url = first.strip().rsplit(" ", 1)[1]
        running = RunningEmulator.__new__(RunningEmulator)  # only url and ca_file are needed
        running.url, running.ca_file = url, ca_dir / "ca.pem"
        client = connect(running)
        assert client.sf.query("SELECT COUNT() FROM User")["totalSize"] == 10
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out
