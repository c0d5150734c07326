"""Messages stranded in a live worker's ack set return to their queue; acked ones never do."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from workers.ops.status import queue_depths
from workers.stranded_acks import StrandedAckReclaimer


def test_a_message_stranded_past_the_threshold_is_requeued_once(redis_server, redis_client):
    broker = RedisBroker(url=redis_server.url)
    broker.declare_queue("card_map")
    for n in range(3):
        broker.enqueue(dramatiq.Message("card_map", "noop", (n,), {}, {}))
    consumer = broker.consume("card_map", prefetch=3, timeout=100)
    fetched = [next(consumer) for _ in range(3)]  # the worker lives on, but "forgot" them
    reclaimer = StrandedAckReclaimer(redis_client, seen_key="cardsync:stranded_acks")

    assert reclaimer.reclaim(stranded_after_ms=60_000, now_ms=1_000) == 0  # first seen
    consumer.ack(fetched[0])  # finished normally: must not come back
    assert reclaimer.reclaim(stranded_after_ms=60_000, now_ms=30_000) == 0  # not long enough
    assert reclaimer.reclaim(stranded_after_ms=60_000, now_ms=70_000) == 2
    (depth,) = queue_depths(redis_client, ("card_map",))
    assert (depth.ready, depth.in_flight) == (2, 0)
    assert reclaimer.reclaim(stranded_after_ms=60_000, now_ms=200_000) == 0  # nothing twice
    assert redis_client.hlen("cardsync:stranded_acks") == 0
    consumer.close()
    broker.close()
