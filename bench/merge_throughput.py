"""Merge throughput in one process: cards/s over 100,000 cards, and whether cost grows with persons.

Run: `uv run python bench/merge_throughput.py [--cards 100000] [--chunk 200]`. Cards are generated
(and validated) first, then joined chunk by chunk through PersonIndex (the real Lua script) on a
throwaway local redis-server, the way the card_merge actor does. The cost per card of the first
10,000 cards and of the last 10,000 is printed: it must not grow with the persons already known.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from merge_quality import labeled_cards

from demo.local_redis import start_local_redis
from pipeline.merge import match_keys
from workers.state.keys import Keys
from workers.state.person_index import PersonIndex

WINDOW = 10_000


def _evalsha_us(client: redis.Redis) -> float:
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return float(stats.get("usec_per_call", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    cards, _labels = labeled_cards(args.cards, args.seed)
    started = time.perf_counter()
    for card in cards[:WINDOW]:
        match_keys(card)
    keys_us = (time.perf_counter() - started) / min(WINDOW, len(cards)) * 1e6

    chunk_times: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = start_local_redis(directory=Path(tmp))
        try:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            index = PersonIndex(client, Keys("bench"))
            total_start = time.perf_counter()
            redis_us = []
            for start in range(0, len(cards), args.chunk):
                if start in (0, len(cards) - WINDOW):
                    client.config_resetstat()
                if start in (WINDOW, len(cards)):
                    redis_us.append(_evalsha_us(client))
                chunk = cards[start : start + args.chunk]
                t0 = time.perf_counter()
                index.join(chunk, "bench")
                chunk_times.append((len(chunk), time.perf_counter() - t0))
            total = time.perf_counter() - total_start
            redis_us.append(_evalsha_us(client))
            persons = index.person_count([c.card_id for c in cards])
            memory = client.info("memory")["used_memory_human"]
            client.close()
        finally:
            server.stop()

    def per_card_us(window: list[tuple[int, float]]) -> float:
        return sum(t for _, t in window) / sum(n for n, _ in window) * 1e6

    per_window = max(1, WINDOW // args.chunk)
    first, last = per_card_us(chunk_times[:per_window]), per_card_us(chunk_times[-per_window:])
    print(f"cards {len(cards)}  persons {persons}  chunk {args.chunk}  redis memory {memory}")
    print(f"throughput          {len(cards) / total:,.0f} cards/s ({total:.1f}s, one process)")
    print(f"match keys (Python) {keys_us:,.1f} us/card")
    print(f"first {WINDOW:,} cards  {first:,.1f} us/card")
    print(f"last {WINDOW:,} cards   {last:,.1f} us/card  (ratio {last / first:.2f})")
    windows = [
        per_card_us(chunk_times[i : i + per_window]) for i in range(0, len(chunk_times), per_window)
    ]
    print("each 10k (us/card)  " + " ".join(f"{w:.0f}" for w in windows))
    print(f"redis EVALSHA       first 10k {redis_us[0]:.1f} us/card, last 10k {redis_us[1]:.1f}")


if __name__ == "__main__":
    main()
