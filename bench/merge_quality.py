"""Pairwise precision, recall and F1 of name-merge against the generator's labels, vs a baseline.

Run: `uv run python bench/merge_quality.py [--cards 20000] [--seed 3]`. The merge is the real
one (PersonIndex's Lua script on a throwaway local redis-server); the baseline joins cards with
the same e-mail as written, or the same name and company as written.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from math import comb
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.local_redis import start_local_redis
from demo.synthetic import (
    REJECT_LABEL,
    SANSAN_HEADERS,
    generate_labeled_cards,
    write_csv,
)
from pipeline.headers import map_headers
from pipeline.models import Card
from pipeline.validation import validate_row
from workers.state.keys import Keys
from workers.state.person_index import PersonIndex

PRECISION_TARGET = 0.999
RECALL_TARGET = 0.98


def labeled_cards(n: int, seed: int) -> tuple[list[Card], list[str]]:
    """Generated rows validated as the CSV reader would, with the true person of each card."""
    header_map = map_headers(list(SANSAN_HEADERS))
    cards, labels = [], []
    for line, (row, label) in enumerate(generate_labeled_cards(n, seed=seed), start=2):
        values = header_map.values([row.get(h, "") for h in header_map.headers])
        outcome = validate_row(values, source="bench.csv", line=line)
        if isinstance(outcome, Card) and label != REJECT_LABEL:
            cards.append(outcome)
            labels.append(label)
    return cards, labels


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def baseline_groups(cards: list[Card]) -> list[str]:
    """Exact match: the e-mail as written, or the name and company as written."""
    uf = _UnionFind(len(cards))
    first_seen: dict[str, int] = {}
    for i, card in enumerate(cards):
        keys = []
        if card.email:
            keys.append("em:" + card.email)
        if card.last_name + card.first_name and card.company_name:
            keys.append(f"nc:{card.last_name}{card.first_name}|{card.company_name}")
        for key in keys:
            if key in first_seen:
                uf.union(i, first_seen[key])
            else:
                first_seen[key] = i
    return [str(uf.find(i)) for i in range(len(cards))]


def merge_groups(cards: list[Card], client: redis.Redis, chunk: int = 200) -> list[str]:
    index = PersonIndex(client, Keys("bench"))
    for start in range(0, len(cards), chunk):
        index.join(cards[start : start + chunk], "bench")
    card_person = client.hmget(Keys("bench").card_person(), [c.card_id for c in cards])
    return [index.resolve(pk) for pk in card_person]


def preview_groups(n: int, seed: int, work: Path, cards: list[Card]) -> list[str]:
    """The grouping `cardsync preview` writes to persons.csv for the same generated file."""
    from workers.ops.preview import run_preview

    source = work / "cards.csv"
    write_csv(source, (row for row, _ in generate_labeled_cards(n, seed=seed)), encoding="cp932")
    run_preview(source, work / "preview")
    with (work / "preview" / "persons.csv").open(encoding="utf-8", newline="") as fh:
        person_of = {r["card_id"]: r["person_key"] for r in csv.DictReader(fh)}
    return [person_of[c.card_id] for c in cards]


def pairwise_scores(labels: Iterable[str], groups: Iterable[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 over all pairs of cards (same true person vs same group)."""
    labels, groups = list(labels), list(groups)
    both = Counter(zip(labels, groups, strict=True))
    true_pairs = sum(comb(n, 2) for n in Counter(labels).values())
    found_pairs = sum(comb(n, 2) for n in Counter(groups).values())
    correct = sum(comb(n, 2) for n in both.values())
    precision = correct / found_pairs if found_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def explain(cards: list[Card], labels: list[str], groups: list[str], limit: int) -> None:
    """A few wrong and missed merges, to see which rule to look at."""
    by_group: dict[str, list[int]] = defaultdict(list)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (label, group) in enumerate(zip(labels, groups, strict=True)):
        by_group[group].append(i)
        by_label[label].append(i)
    wrong = [g for g, rows in by_group.items() if len({labels[i] for i in rows}) > 1][:limit]
    missed = [lb for lb, rows in by_label.items() if len({groups[i] for i in rows}) > 1][:limit]
    fields = ("last_name", "first_name", "company_name", "email", "mobile", "tel", "url", "street")
    for title, sets in (("wrong merges", wrong), ("missed merges", missed)):
        print(f"\n{title}:")
        for key in sets:
            rows = by_group[key] if title == "wrong merges" else by_label[key]
            for i in rows:
                values = " | ".join(getattr(cards[i], f) for f in fields)
                print(f"  {labels[i]} {groups[i][:8]} {values}")
            print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--via-preview",
        action="store_true",
        help="group with `cardsync preview` on a written CSV (its persons.csv) instead",
    )
    parser.add_argument("--explain", type=int, default=0, help="show N wrong and missed merges")
    args = parser.parse_args()

    cards, labels = labeled_cards(args.cards, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.via_preview:
            started = time.perf_counter()
            merged = preview_groups(args.cards, args.seed, Path(tmp), cards)
            elapsed = time.perf_counter() - started
        else:
            server = start_local_redis(directory=Path(tmp))
            try:
                client = redis.Redis.from_url(server.url, decode_responses=True)
                started = time.perf_counter()
                merged = merge_groups(cards, client)
                elapsed = time.perf_counter() - started
                client.close()
            finally:
                server.stop()
    baseline = baseline_groups(cards)

    print(f"cards {len(cards)}  true persons {len(set(labels))}  seed {args.seed}")
    print(f"{'':<24}{'persons':>9}{'precision':>11}{'recall':>9}{'F1':>9}")
    results = {}
    for name, groups in (("exact-match baseline", baseline), ("name-merge (issue 3)", merged)):
        precision, recall, f1 = pairwise_scores(labels, groups)
        results[name] = (precision, recall)
        print(f"{name:<24}{len(set(groups)):>9}{precision:>11.5f}{recall:>9.5f}{f1:>9.5f}")
    precision, recall = results["name-merge (issue 3)"]
    met = precision >= PRECISION_TARGET and recall >= RECALL_TARGET
    print(
        f"targets: precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}: "
        + ("met" if met else "NOT met")
    )
    print(f"merge time {elapsed:.2f}s ({len(cards) / elapsed:,.0f} cards/s)")
    if args.explain:
        explain(cards, labels, merged, args.explain)


if __name__ == "__main__":
    main()
