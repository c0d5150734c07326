"""Replaying every message of a finished import (at-least-once delivery) creates no new record."""

from __future__ import annotations

import pytest

from demo.synthetic import generate_cards, write_csv
from emulators.salesforce.server import start_emulator
from pipeline.models import Reject
from tests.integration.harness import pipeline_env, running_workers, runtime_for, wait_drained
from workers.sources.csv_file import CardFile
from workers.sources.importer import import_file
from workers.stages import card_ingest, card_map


def test_replaying_every_ingest_and_map_message_creates_nothing_new(
    redis_server, redis_client, tmp_path
):
    emulator = start_emulator(data_dir=tmp_path / "emulator")
    path = tmp_path / "cards.csv"
    write_csv(path, generate_cards(800, seed=31))
    env = pipeline_env(redis_server.url, emulator)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            rt = runtime_for(env)
            with running_workers(env, tmp_path / "workers.log") as workers:
                started = import_file(rt, path)
                wait_drained(rt, started.import_id, workers)
                before = {
                    "contacts": len(emulator.store.query_records("Contact")),
                    "accounts": len(emulator.store.query_records("Account")),
                    "stats": dict(rt.redis.hgetall(rt.keys.stats())),
                }
                # Deliver every message again: the ingest chunks, then a map message per person.
                rows = [
                    [r.line, r.values] for r in CardFile(path).rows() if not isinstance(r, Reject)
                ]
                for start in range(0, len(rows), 200):
                    rt.broker.enqueue(
                        card_ingest.message(
                            import_id=started.import_id,
                            source=path.name,
                            rows=rows[start : start + 200],
                        )
                    )
                persons = sorted(set(rt.redis.hvals(rt.keys.card_person())))
                for start in range(0, len(persons), 200):
                    rt.broker.enqueue(
                        card_map.message(
                            import_id=started.import_id, person_keys=persons[start : start + 200]
                        )
                    )
                wait_drained(rt, started.import_id, workers)
                after_stats = dict(rt.redis.hgetall(rt.keys.stats()))
    finally:
        contacts_after = len(emulator.store.query_records("Contact"))
        accounts_after = len(emulator.store.query_records("Account"))
        emulator.stop()
    assert contacts_after == before["contacts"] > 0
    assert accounts_after == before["accounts"]
    for counter in ("Contact.created", "Account.created", "Contact.updated", "Account.updated"):
        assert after_stats.get(counter) == before["stats"].get(counter), counter
    # nothing was written again: the replay cost reads at most, no upsert
    assert int(after_stats.get("api_calls", 0)) - int(before["stats"].get("api_calls", 0)) <= 2
