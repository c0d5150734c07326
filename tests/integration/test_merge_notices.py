"""The writer learns of merged persons only from merge notices in its own messages and keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import load_settings
from emulators.salesforce.server import RunningEmulator, start_emulator
from pipeline.models import SyncRecord
from tests.integration.harness import pipeline_env
from workers.runtime import Runtime
from workers.salesforce.writer import WriterPolicy
from workers.state.writer_buffer import BufferedRecord

FAST = WriterPolicy(retry_attempts=3, retry_initial_s=0.01, retry_max_s=0.05)


@pytest.fixture()
def setup(
    redis_server, redis_client, tmp_path, monkeypatch
) -> Iterator[tuple[Runtime, RunningEmulator]]:
    emulator = start_emulator(data_dir=tmp_path / "emulator")
    for key, value in pipeline_env(
        redis_server.url, emulator, CARDSYNC_PIPELINE__LINGER_MS="0"
    ).items():
        monkeypatch.setenv(key, value)
    runtime = Runtime(load_settings())
    runtime.writer.configure(FAST)
    yield runtime, emulator
    emulator.stop()


def live(person: str, name: str, version: int = 1) -> BufferedRecord:
    record = SyncRecord(
        sobject="Contact",
        external_id_field="Sansan_Person_Id__c",
        external_id=person,
        payload={"LastName": name},
        person_key=person,
        card_ids=(f"card-{person}",),
    )
    return BufferedRecord(record, version)


def contacts(emulator: RunningEmulator) -> dict[str, dict]:
    return {
        r["Sansan_Person_Id__c"]: r
        for r in emulator.store.query_records("Contact")
        if r.get("Sansan_Person_Id__c")
    }


def test_a_written_person_merged_away_gets_a_marker_and_a_replayed_notice_costs_nothing(setup):
    rt, emulator = setup
    rt.writer.accept([live("p1", "Yamada"), live("p2", "Yamada")], {})
    assert rt.writer.flush_due().written == 2
    rt.writer.accept([live("p2", "Yamada", version=2)], {"p1": "p2"})
    rt.writer.flush_due()
    assert contacts(emulator)["p1"]["Sansan_Merged_Into__c"] == "p2"
    assert not contacts(emulator)["p2"].get("Sansan_Merged_Into__c")
    calls = emulator.api_calls()
    rt.writer.accept([], {"p1": "p2"})  # the same notice again (a redelivered message)
    report = rt.writer.flush_due()
    assert (report.calls, report.skipped) == (0, 1)
    assert emulator.api_calls() == calls


def test_a_person_merged_away_before_its_first_write_is_never_written(setup):
    rt, emulator = setup
    rt.writer.accept([live("q1", "Waiting")], {})  # waits in the buffer, not yet flushed
    rt.writer.accept([], {"q1": "q2"})
    rt.writer.accept([live("q1", "Late", version=3)], {})  # a map worker that loaded q1 earlier
    rt.writer.accept([live("q2", "Survivor")], {})
    rt.writer.flush_due()
    assert set(contacts(emulator)) == {"q2"}
    assert rt.buffer.depth("Contact").pending == 0


def test_a_person_written_while_the_notice_travelled_is_marked_on_its_arrival(setup):
    rt, emulator = setup
    rt.writer.accept([live("r1", "Early")], {})
    rt.writer.flush_due()  # written live: the merge had not reached the writer yet
    rt.writer.accept([live("r1", "Newer", version=2)], {"r1": "r2"})
    rt.writer.flush_due()
    assert contacts(emulator)["r1"]["Sansan_Merged_Into__c"] == "r2"
    assert contacts(emulator)["r1"]["LastName"] == "Early"  # the newer live view was dropped
