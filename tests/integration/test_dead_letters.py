"""Dead letters of every kind, listed, shown, replayed through the normal path, and reconciled."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator

import dramatiq
import pytest
import structlog
import typer
from dramatiq.brokers.redis import RedisBroker
from typer.testing import CliRunner

from config.settings import get_settings
from pipeline.models import Reject
from workers.commands.main import app
from workers.ops.reconcile import reconcile_import
from workers.runtime import reset_runtime
from workers.state.dead_letters import DeadLetterStore
from workers.state.import_tracker import ImportTracker
from workers.state.keys import Keys
from workers.state.writer_buffer import WriterBuffer

KEYS = Keys()


@pytest.fixture()
def broker(redis_server, redis_client) -> Iterator[RedisBroker]:
    broker = RedisBroker(url=redis_server.url, heartbeat_timeout=60_000)
    for queue in ("card_ingest", "card_merge", "card_write"):
        broker.declare_queue(queue)
    yield broker
    broker.close()


def dead_message(broker: RedisBroker, queue: str, **kwargs) -> None:
    """A message dramatiq gave up on: retried (its traceback kept), fetched again, nacked."""
    options = {"retries": 10, "traceback": "Traceback...\nRuntimeError: redis went away\n"}
    broker.enqueue(
        dramatiq.Message(
            queue_name=queue, actor_name=queue, args=(), kwargs=kwargs, options=options
        )
    )
    consumer = broker.consume(queue, prefetch=1, timeout=200)
    consumer.nack(next(consumer))
    consumer.close()


def add_reject(client, import_id: str, line: int, card_id: str) -> None:
    ImportTracker(client, KEYS).start(import_id, "cards.csv")
    ImportTracker(client, KEYS).add_rejects(
        import_id,
        [
            Reject(
                "cards.csv",
                line,
                "email",
                "invalid email",
                card_id,
                {"card_id": card_id, "last_name": "山田", "email": "bad@"},
            )
        ],
    )


def test_every_kind_is_listed_with_reason_import_and_cards(redis_client, broker):
    add_reject(redis_client, "imp-a", 7, "c7")
    dead_message(
        broker, "card_merge", import_id="imp-a", cards=[{"card_id": "c1"}, {"card_id": "c2"}]
    )
    redis_client.hset(
        KEYS.record_errors(),
        "Contact/p9",
        json.dumps(
            {
                "sobject": "Contact",
                "external_id": "p9",
                "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "message": "bad"}],
                "payload": {"Email": "x"},
                "card_ids": ["c9"],
                "import_ids": ["imp-b"],
                "at": 5.0,
            }
        ),
    )
    store = DeadLetterStore(redis_client, KEYS)
    items = {i.kind: i for i in store.list()}
    assert set(items) == {"record", "reject", "message"}
    assert (items["record"].reason, items["record"].card_ids) == ("INVALID_EMAIL_ADDRESS", ["c9"])
    assert items["reject"].id == "reject:imp-a:7:c7"
    assert (items["reject"].reason, items["reject"].card_ids) == ("invalid email", ["c7"])
    message = items["message"]
    assert message.id.startswith("message:card_merge:")
    assert (message.reason, message.import_ids) == ("RuntimeError", ["imp-a"])
    assert message.card_ids == ["c1", "c2"]
    assert store.counts() == {"record": 1, "reject": 1, "message": 1}
    assert [i.id for i in store.list(import_id="imp-a", kinds=("reject",))] == ["reject:imp-a:7:c7"]
    assert store.get(message.id).detail["actor"] == "card_merge"


def test_replay_sends_rejects_and_dead_messages_back_to_their_queues(redis_client, broker):
    add_reject(redis_client, "imp-r", 3, "c3")
    dead_message(broker, "card_merge", import_id="imp-r", cards=[{"card_id": "c1"}])
    store = DeadLetterStore(redis_client, KEYS)
    report = store.replay(store.list(), broker, WriterBuffer(redis_client, KEYS))
    assert len(report.replayed) == 2 and report.skipped == {}
    assert store.list() == []
    [ingest] = [json.loads(m) for m in redis_client.hvals("dramatiq:card_ingest.msgs")]
    assert ingest["kwargs"]["rows"] == [
        [3, {"card_id": "c3", "last_name": "山田", "email": "bad@"}]
    ]
    assert ingest["kwargs"]["import_id"] == "imp-r"
    [merge] = [json.loads(m) for m in redis_client.hvals("dramatiq:card_merge.msgs")]
    assert merge["kwargs"]["cards"] == [{"card_id": "c1"}]
    assert "retries" not in merge["options"] and "traceback" not in merge["options"]
    assert redis_client.llen("dramatiq:card_merge") == 1


def import_state(client, import_id: str) -> None:
    """6 rows: 1 reject; p1 has cards a, b (written); p2 card c (written, p2 merged into p3 later);
    p4 card d (dead-lettered); card e not finished."""
    add_reject(client, import_id, 2, "r1")
    client.hset(KEYS.import_info(import_id), "read", 6)
    client.sadd(KEYS.import_merged(import_id), "a", "b", "c", "d", "e")
    client.hset(KEYS.card_person(), mapping={"a": "p1", "b": "p1", "c": "p2", "d": "p4", "e": "p5"})
    client.hset(KEYS.person_alias(), "p2", "p3")
    client.sadd(KEYS.import_written(import_id), "a", "b", "c")
    client.sadd(KEYS.import_failed(import_id), "d")
    client.hset(
        KEYS.record_errors(),
        "Contact/p4",
        json.dumps(
            {
                "errors": [{"statusCode": "STRING_TOO_LONG", "message": "too long"}],
                "card_ids": ["d"],
                "import_ids": [import_id],
                "at": 1.0,
            }
        ),
    )


def test_reconciliation_adds_up_once_every_card_is_done(redis_client):
    import_state(redis_client, "imp-c")
    result = reconcile_import(redis_client, KEYS, "imp-c")
    assert (result.read, result.rejected, result.merged_into_another) == (6, 1, 1)
    assert (result.written, result.dead_lettered, result.in_progress) == (2, 1, 1)
    assert not result.adds_up
    redis_client.sadd(KEYS.import_written("imp-c"), "e")
    result = reconcile_import(redis_client, KEYS, "imp-c")
    assert (result.written, result.in_progress, result.adds_up) == (3, 0, True)
    assert result.reject_reasons == {"invalid email": 1}
    assert result.dead_letter_reasons == {"STRING_TOO_LONG": 1}
    assert "adds up" in result.render()


@pytest.fixture()
def cli(monkeypatch, redis_server, redis_client) -> Iterator[typer.Typer]:
    for name in list(os.environ):
        if name.upper().startswith("CARDSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARDSYNC_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    reset_runtime()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield app
    get_settings.cache_clear()
    reset_runtime()
    # The commands configure logging on the runner's stderr, which is closed once they return.
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_cli_lists_shows_replays_purges_and_reconciles(cli, redis_client):
    runner = CliRunner()
    import_state(redis_client, "imp-d")
    redis_client.sadd(KEYS.import_written("imp-d"), "e")
    listed = runner.invoke(cli, ["dead-letters", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines() if line.startswith("{")]
    assert sorted(ids) == ["record:Contact/p4", "reject:imp-d:2:r1"]
    shown = runner.invoke(cli, ["dead-letters", "show", "record:Contact/p4"])
    assert shown.exit_code == 0 and "STRING_TOO_LONG" in shown.stdout
    assert runner.invoke(cli, ["dead-letters", "show", "record:nope"]).exit_code == 1
    replayed = runner.invoke(cli, ["dead-letters", "replay", "record:Contact/p4"])
    assert "0 replayed, 1 skipped" in replayed.stdout  # stored without its full record
    assert runner.invoke(cli, ["dead-letters", "replay"]).exit_code == 2
    summary = runner.invoke(cli, ["reconcile", "imp-d", "--json"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["adds_up"] is True
    assert runner.invoke(cli, ["reconcile", "imp-none"]).exit_code == 1
    purged = runner.invoke(cli, ["dead-letters", "purge", "--kind", "reject", "--yes"])
    assert "1 purged" in purged.stdout
    assert DeadLetterStore(redis_client, KEYS).counts()["reject"] == 0
