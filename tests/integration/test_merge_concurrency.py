"""Several workers merging shuffled cards of the same persons at once, against one real Redis."""

from __future__ import annotations

import random
import threading
from collections import Counter

import redis

from pipeline.models import Card
from workers.state.keys import Keys
from workers.state.person_index import PersonIndex

WORKERS = 8
GROUPS = 150  # each group: two namesakes at one company, told apart by e-mail and mobile
OFFICE = {
    "company_name": "株式会社サンプル",
    "prefecture": "東京都",
    "street": "港区芝1-2-3",
    "url": "https://www.sample.co.jp/",
}


def labeled_cards() -> list[tuple[Card, str]]:
    """Per person: an e-mail-only card, a mobile-only card, a card with both, a job change."""
    out: list[tuple[Card, str]] = []
    for g in range(GROUPS):
        for twin in range(2):
            label = f"{g}-{twin}"
            name = {"last_name": f"山田{g}", "first_name": "太郎"}
            email = f"taro{g}.{twin}@sample.co.jp"
            mobile = f"090-{g:04d}-{twin:04d}"
            rows = [
                {**OFFICE, "email": email.upper()},
                {**OFFICE, "mobile": mobile},
                {**OFFICE, "email": email, "mobile": mobile},
                {"company_name": f"新会社{g}", "email": f"n{label}@new.jp", "mobile": mobile},
            ]
            for k, row in enumerate(rows):
                out.append((Card(card_id=f"C{label}-{k}", owner_id="U1", **name, **row), label))
    return out


def test_concurrent_workers_end_with_exactly_one_person_per_human(redis_client, redis_server):
    labeled = labeled_cards()
    random.Random(5).shuffle(labeled)
    cards = [c for c, _ in labeled]
    label_of = {c.card_id: label for c, label in labeled}
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(part: list[Card]) -> None:
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        index = PersonIndex(client, Keys("cc"))
        barrier.wait()
        try:
            for start in range(0, len(part), 7):
                index.join(part[start : start + 7], "imp")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(cards[w::WORKERS],)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    keys = Keys("cc")
    index = PersonIndex(redis_client, keys)
    card_ids = [c.card_id for c in cards]
    assert index.person_count(card_ids) == GROUPS * 2

    live = {index.resolve(pk) for pk in redis_client.hvals(keys.card_person())}
    persons = index.load(sorted(live))
    assert len(persons) == GROUPS * 2
    seen = Counter(cid for lp in persons.values() for cid in lp.person.card_ids)
    assert set(seen) == set(card_ids) and set(seen.values()) == {1}, "each card in one person"
    for lp in persons.values():
        assert len({label_of[cid] for cid in lp.person.card_ids}) == 1, lp.person.card_ids
    # every card's own pointer agrees with the person that holds it
    for key, lp in persons.items():
        for cid in lp.person.card_ids:
            assert redis_client.hget(keys.card_person(), cid) == key


def test_replaying_every_card_concurrently_changes_nothing(redis_client, redis_server):
    cards = [c for c, _ in labeled_cards()]
    index = PersonIndex(redis_client, Keys("cc"))
    index.join(cards, "imp")
    before = index.person_count([c.card_id for c in cards])

    results = []

    def replay(part: list[Card]) -> None:
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        results.extend(PersonIndex(client, Keys("cc")).join(part, "imp2"))
        client.close()

    threads = [threading.Thread(target=replay, args=(cards[w::4],)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(cards)
    assert not any(r.changed or r.merged_away for r in results)
    assert index.person_count([c.card_id for c in cards]) == before
