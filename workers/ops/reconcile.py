"""Reconciliation of one import: every card read is rejected, merged, written or dead-lettered.

    read = rejected + merged into another card + written (one card per person)
           + dead-lettered + rows in dead queue messages + still in progress

A card whose person's record was written counts once per person as `written`; the person's other
cards of this import are `merged into another card`. A card whose record Salesforce refused is
`dead-lettered` (with the error code). When the pipeline has drained and nothing was lost,
`in_progress` is 0 and the sum adds up.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from pipeline.errors import NotFoundError
from workers.state.dead_letters import DeadLetterStore
from workers.state.keys import Keys


@dataclass
class Reconciliation:
    import_id: str
    read: int
    rejected: int
    merged_into_another: int
    written: int  # persons written (one card each)
    dead_lettered: int  # cards whose record Salesforce refused
    dead_message_rows: int  # rows in card_ingest messages dramatiq gave up on
    in_progress: int  # cards neither written nor dead-lettered yet
    reject_reasons: dict[str, int] = field(default_factory=dict)
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    in_progress_cards: list[str] = field(default_factory=list)  # the first 20, to look into

    @property
    def accounted(self) -> int:
        return (
            self.rejected
            + self.merged_into_another
            + self.written
            + self.dead_lettered
            + self.dead_message_rows
        )

    @property
    def adds_up(self) -> bool:
        return self.in_progress == 0 and self.accounted == self.read

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accounted": self.accounted, "adds_up": self.adds_up}

    def render(self) -> str:
        lines = [
            f"import {self.import_id}",
            f"  cards read                 {self.read:>8}",
            f"  rejected                   {self.rejected:>8}",
            f"  merged into another card   {self.merged_into_another:>8}",
            f"  written (persons)          {self.written:>8}",
            f"  dead-lettered              {self.dead_lettered:>8}",
        ]
        if self.dead_message_rows:
            lines.append(f"  rows in dead messages      {self.dead_message_rows:>8}")
        if self.in_progress:
            lines.append(f"  still in progress          {self.in_progress:>8}")
        verdict = "adds up" if self.adds_up else f"DOES NOT ADD UP ({self.accounted} accounted)"
        lines.append(f"  {verdict}")
        for title, reasons in (
            ("reject reasons", self.reject_reasons),
            ("dead-letter reasons", self.dead_letter_reasons),
        ):
            if reasons:
                lines.append(f"  {title}:")
                lines += [
                    f"    {n:>6}  {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1])
                ]
        return "\n".join(lines)


def _survivors(client: redis.Redis, keys: Keys, person_keys: list[str]) -> list[str]:
    """Follow merged-away person keys to the person that absorbed them."""
    current = list(person_keys)
    for _ in range(32):  # merge chains are short; the bound only guards against a cycle
        aliases = client.hmget(keys.person_alias(), current) if current else []
        if not any(aliases):
            break
        current = [a or c for c, a in zip(current, aliases, strict=True)]
    return current


def reconcile_import(client: redis.Redis, keys: Keys, import_id: str) -> Reconciliation:
    """Count where each card of `import_id` went; NotFoundError if no such import was started."""
    info = client.hgetall(keys.import_info(import_id))
    if not info:
        raise NotFoundError(f"no import {import_id}")
    rejects = [json.loads(v) for v in client.hvals(keys.import_rejects(import_id))]
    merged = set(client.smembers(keys.import_merged(import_id)))
    written = set(client.smembers(keys.import_written(import_id)))
    failed = set(client.smembers(keys.import_failed(import_id)))
    ok = sorted((written - failed) & merged)
    dead = failed & merged
    persons = _survivors(client, keys, client.hmget(keys.card_person(), ok)) if ok else []
    distinct = len({p for p in persons if p})
    store = DeadLetterStore(client, keys)
    letters = store.list(kinds=("record",), import_id=import_id)
    dead_reasons: Counter[str] = Counter()
    for letter in letters:
        dead_reasons[letter.reason] += len(set(letter.card_ids) & dead) or 0
    dead_rows = sum(
        int(m.detail.get("rows") or 0)
        for m in store.list(kinds=("message",), import_id=import_id)
        if m.detail.get("actor") == "card_ingest"
    )
    return Reconciliation(
        import_id=import_id,
        read=int(info.get("read", 0)),
        rejected=len(rejects),
        merged_into_another=len(ok) - distinct,
        written=distinct,
        dead_lettered=len(dead),
        dead_message_rows=dead_rows,
        in_progress=len(merged - set(ok) - dead),
        in_progress_cards=sorted(merged - set(ok) - dead)[:20],
        reject_reasons=dict(Counter(str(r.get("reason", "")) for r in rejects)),
        dead_letter_reasons={r: n for r, n in dead_reasons.items() if n},
    )
