"""`cardsync status` numbers, each proven against a known state in a real Redis."""

from __future__ import annotations

import json
import time

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from pipeline.models import Reject, SyncRecord
from workers.ops.status import queue_depths, read_status, workers_alive
from workers.state.import_tracker import ImportTracker
from workers.state.keys import Keys
from workers.state.writer_buffer import BufferedRecord, WriterBuffer

QUEUES = ("card_ingest", "card_merge")


def message(queue: str, n: int) -> dramatiq.Message:
    return dramatiq.Message(queue_name=queue, actor_name="noop", args=(n,), kwargs={}, options={})


@pytest.fixture()
def broker(redis_server, redis_client):
    broker = RedisBroker(url=redis_server.url, heartbeat_timeout=60_000)
    for queue in QUEUES:
        broker.declare_queue(queue)
    yield broker
    broker.close()


def test_each_queue_number_matches_a_known_state(broker, redis_client):
    for n in range(5):
        broker.enqueue(message("card_ingest", n))
    broker.enqueue(message("card_merge", 99))
    for n in range(3):
        broker.enqueue(message("card_merge", n), delay=60_000)  # delayed (also how retries wait)

    consumer = broker.consume("card_ingest", prefetch=2, timeout=100)
    fetched = [next(consumer) for _ in range(2)]  # prefetched: in flight, not acked
    assert all(m is not None for m in fetched)
    dead_consumer = broker.consume("card_merge", prefetch=1, timeout=100)
    to_kill = next(dead_consumer)
    dead_consumer.nack(to_kill)  # dead-lettered

    depths = {d.queue: d for d in queue_depths(redis_client, QUEUES)}
    assert (depths["card_ingest"].ready, depths["card_ingest"].in_flight) == (3, 2)
    assert (depths["card_ingest"].delayed, depths["card_ingest"].dead) == (0, 0)
    assert (depths["card_merge"].ready, depths["card_merge"].in_flight) == (0, 0)
    assert (depths["card_merge"].delayed, depths["card_merge"].dead) == (3, 1)

    consumer.ack(fetched[0])
    depths = {d.queue: d for d in queue_depths(redis_client, QUEUES)}
    assert depths["card_ingest"].in_flight == 1
    consumer.close()
    dead_consumer.close()


def test_workers_alive_counts_recent_heartbeats_only(redis_client):
    now_ms = int(time.time() * 1000)
    redis_client.zadd(
        "dramatiq:__heartbeats__",
        {
            "w-live-1": now_ms,
            "w-live-2": now_ms - 5_000,
            "w-dead": now_ms - 120_000,
            "sender-x": now_ms,
        },
    )
    assert workers_alive(redis_client, heartbeat_timeout_ms=60_000) == 2


def test_status_reports_writer_backlog_record_errors_and_import_progress(redis_client):
    keys = Keys("cardsync")
    buffer = WriterBuffer(redis_client, keys, batch_size=2, linger_ms=0)
    records = [
        BufferedRecord(SyncRecord("Contact", "E__c", f"p{i}", {"LastName": "x"}), 1)
        for i in range(3)
    ]
    buffer.put([*records, BufferedRecord(SyncRecord("Account", "K__c", "k1", {"Name": "x"}), 0)])
    buffer.pop("Account")  # one Account in flight
    redis_client.hset(keys.record_errors(), "Contact/p9", json.dumps({"errors": []}))

    tracker = ImportTracker(redis_client, keys)
    tracker.start("imp-1", "cards.csv")
    tracker.add_read("imp-1", 10)
    tracker.add_rejects("imp-1", [Reject("cards.csv", 4, "email", "malformed email address 'x'")])
    redis_client.sadd(keys.import_merged("imp-1"), *[f"c{i}" for i in range(9)])
    tracker.mark_cards({"imp-1": (["c0", "c1", "c2"], ["c3"])})

    status = read_status(
        redis_client, keys, ("card_ingest",), heartbeat_timeout_ms=60_000, import_ids=["imp-1"]
    )
    assert status.writer_pending == {"Account": 0, "Contact": 3}
    assert status.writer_in_flight == {"Account": 1, "Contact": 0}
    assert status.record_errors == 1
    counts = status.imports[0]
    assert (counts.read, counts.rejected, counts.merged, counts.written, counts.failed) == (
        10,
        1,
        9,
        3,
        1,
    )
    assert not status.drained
