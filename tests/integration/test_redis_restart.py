"""Redis restarts mid-import (append-only file on): workers reconnect and no card is lost."""

from __future__ import annotations

from collections import Counter

import pytest

from demo.local_redis import start_local_redis
from demo.synthetic import generate_cards, write_csv
from emulators.salesforce.server import start_emulator
from tests.integration.harness import pipeline_env, running_workers, runtime_for, wait_drained
from tests.waiting import wait_until
from workers.ops.reconcile import reconcile_import
from workers.sources.importer import import_file

CARDS = 3000


def test_workers_reconnect_after_a_redis_restart_and_no_card_is_lost(tmp_path):
    server = start_local_redis(appendonly=True, directory=tmp_path / "redis")
    emulator = start_emulator(data_dir=tmp_path / "emulator")
    csv_path = tmp_path / "cards.csv"
    write_csv(csv_path, generate_cards(CARDS, seed=21))
    # Short reclaim settings so a message stranded by the restart returns within the test.
    env = pipeline_env(
        server.url,
        emulator,
        CARDSYNC_WORKER__STRANDED_AFTER_S="15",
        CARDSYNC_WORKER__RECLAIM_INTERVAL_S="2",
    )
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            rt = runtime_for(env)
            with running_workers(env, tmp_path / "workers.log") as workers:
                started = import_file(rt, csv_path)
                wait_until(
                    lambda: rt.tracker.counts(started.import_id).merged >= CARDS // 5,
                    timeout_s=60,
                    what="a fifth of the cards merged before the restart",
                )
                progress_at_restart = rt.tracker.counts(started.import_id)
                server.restart()  # SIGTERM, then start again on the same port and directory
                wait_drained(rt, started.import_id, workers, timeout_s=240)
            counts = rt.tracker.counts(started.import_id)
            result = reconcile_import(rt.redis, rt.keys, started.import_id)
            persons = rt.persons.person_count(rt.tracker.merged_cards(started.import_id))
            contacts = emulator.store.query_records("Contact")
    finally:
        emulator.stop()
        server.stop()
    assert progress_at_restart.written < CARDS, "the restart happened mid-run"
    assert counts.read == CARDS
    assert counts.merged == CARDS - counts.rejected
    assert counts.written == counts.merged and counts.failed == 0
    assert result.adds_up, result.render()
    contacts = [c for c in contacts if not c["Sansan_Merged_Into__c"]]
    by_person = Counter(c["Sansan_Person_Id__c"] for c in contacts)
    assert all(n == 1 for n in by_person.values())
    assert len(contacts) == persons
