"""How long a SIGKILLed worker's fetched messages take to run again, by dramatiq maintenance chance.

A "killed" broker fetches messages and goes silent (no ack, no heartbeat), as a SIGKILLed worker
does. A live consumer then polls the queue as a dramatiq worker does (idle back-off up to 1 s).
Dramatiq requeues a dead worker's messages only during "maintenance", which runs on
`maintenance_chance` out of 1,000,000 broker commands (default 1,000: 0.1 %), and only once the
heartbeat timeout has passed. Prints seconds from the kill until the messages are fetched again.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from demo.local_redis import start_local_redis

QUEUE = "card_write"


def measure(url: str, chance: int, heartbeat_ms: int, messages: int, max_wait_s: float) -> float:
    killed = RedisBroker(url=url, heartbeat_timeout=heartbeat_ms)
    live = RedisBroker(url=url, heartbeat_timeout=heartbeat_ms, maintenance_chance=chance)
    for broker in (killed, live):
        broker.declare_queue(QUEUE)
    for n in range(messages):
        killed.enqueue(
            dramatiq.Message(queue_name=QUEUE, actor_name="noop", args=(n,), kwargs={}, options={})
        )
    doomed = killed.consume(QUEUE, prefetch=messages, timeout=100)
    assert all(next(doomed) is not None for _ in range(messages))
    killed_at = time.monotonic()  # from here on the killed broker says nothing
    consumer = live.consume(QUEUE, prefetch=1, timeout=1000)
    recovered = 0
    while recovered < messages and time.monotonic() - killed_at < max_wait_s:
        message = next(consumer)
        if message is not None:
            consumer.ack(message)
            recovered += 1
    elapsed = time.monotonic() - killed_at
    consumer.close()
    live.close()
    return elapsed if recovered == messages else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chances", default="1000,10000,100000,1000000")
    parser.add_argument("--heartbeat-timeout-ms", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--max-wait-s", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_local_redis(directory=Path(tmp))
        try:
            print(f"heartbeat timeout {args.heartbeat_timeout_ms} ms, {args.messages} messages")
            print(f"{'maintenance_chance':>20}{'seconds to recover':>20}")
            for chance in (int(c) for c in args.chances.split(",")):
                __import__("redis").Redis.from_url(server.url).flushall()
                seconds = measure(
                    server.url,
                    chance,
                    args.heartbeat_timeout_ms,
                    args.messages,
                    args.max_wait_s,
                )
                shown = f"> {args.max_wait_s:.0f}" if seconds == float("inf") else f"{seconds:.1f}"
                print(f"{chance:>20}{shown:>20}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
