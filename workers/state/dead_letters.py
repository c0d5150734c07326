"""Dead letters: everything that did not reach Salesforce, with why, when, which import and cards.

Three kinds, each read where it already lives (no copy to keep in sync):
- record: a record Salesforce refused for good (the writer's `record_errors` hash);
- reject: a row that failed validation (each import's rejects hash);
- message: a queue message dramatiq gave up on after its retries (`dramatiq:<queue>.XQ`).

Ids name the kind: `record:Contact/<external id>`, `reject:<import id>:<line>:<card id>`,
`message:<queue>:<redis message id>`. Replay sends an item through the normal path again: a
record back into the writer buffer (plus a flush), a reject to card_ingest, a message to its
queue. The item leaves the dead letters; if it fails again, it comes back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dramatiq
import redis

from pipeline.models import SyncRecord
from workers.queues import QUEUES
from workers.state.keys import Keys
from workers.state.writer_buffer import BufferedRecord, WriterBuffer

DRAMATIQ_NAMESPACE = "dramatiq"
KINDS = ("record", "reject", "message")


@dataclass
class DeadLetter:
    id: str
    kind: str
    reason: str  # an error code (record), the reject reason, or the exception (message)
    message: str
    at: float
    import_ids: list[str] = field(default_factory=list)
    card_ids: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> why


class DeadLetterStore:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        queues: tuple[str, ...] = QUEUES,
        namespace: str = DRAMATIQ_NAMESPACE,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._queues = queues
        self._ns = namespace

    # Reading ---------------------------------------------------------------------------------

    def list(
        self,
        *,
        kinds: Iterable[str] = KINDS,
        error_code: str | None = None,
        import_id: str | None = None,
    ) -> list[DeadLetter]:
        wanted = set(kinds)
        items: list[DeadLetter] = []
        if "record" in wanted:
            items += self._records()
        if "reject" in wanted:
            items += self._rejects([import_id] if import_id else None)
        if "message" in wanted:
            items += self._messages()
        if error_code:
            items = [i for i in items if i.reason.upper() == error_code.upper()]
        if import_id:
            items = [i for i in items if import_id in i.import_ids]
        return sorted(items, key=lambda i: (i.at, i.id))

    def get(self, item_id: str) -> DeadLetter | None:
        kind = item_id.split(":", 1)[0]
        if kind == "record":
            raw = self._redis.hget(self._keys.record_errors(), item_id.split(":", 1)[1])
            return _record_letter(item_id.split(":", 1)[1], raw) if raw else None
        if kind == "reject":
            _, import_id, field_key = item_id.split(":", 2)
            raw = self._redis.hget(self._keys.import_rejects(import_id), field_key)
            return _reject_letter(import_id, field_key, raw) if raw else None
        if kind == "message":
            _, queue, message_id = item_id.split(":", 2)
            raw = self._redis.hget(f"{self._ns}:{queue}.XQ.msgs", message_id)
            at = self._redis.zscore(f"{self._ns}:{queue}.XQ", message_id)
            return _message_letter(queue, message_id, raw, at) if raw else None
        return None

    def _records(self) -> list[DeadLetter]:
        raw = self._redis.hgetall(self._keys.record_errors())
        return [_record_letter(key, value) for key, value in raw.items()]

    def _rejects(self, import_ids: list[str] | None) -> list[DeadLetter]:
        ids = (
            import_ids
            if import_ids is not None
            else self._redis.zrange(self._keys.imports(), 0, -1)
        )
        items: list[DeadLetter] = []
        for import_id in ids:
            raw = self._redis.hgetall(self._keys.import_rejects(import_id))
            items += [_reject_letter(import_id, k, v) for k, v in raw.items()]
        return items

    def _messages(self) -> list[DeadLetter]:
        items: list[DeadLetter] = []
        for queue in self._queues:
            scores = dict(self._redis.zrange(f"{self._ns}:{queue}.XQ", 0, -1, withscores=True))
            if not scores:
                continue
            bodies = self._redis.hgetall(f"{self._ns}:{queue}.XQ.msgs")
            items += [
                _message_letter(queue, mid, bodies[mid], at)
                for mid, at in scores.items()
                if mid in bodies
            ]
        return items

    def counts(self) -> dict[str, int]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hlen(self._keys.record_errors())
        for queue in self._queues:
            pipe.zcard(f"{self._ns}:{queue}.XQ")
        records, *messages = pipe.execute()
        rejects = sum(
            int(self._redis.hlen(self._keys.import_rejects(i)))
            for i in self._redis.zrange(self._keys.imports(), 0, -1)
        )
        return {"record": int(records), "reject": rejects, "message": sum(map(int, messages))}

    # Acting ----------------------------------------------------------------------------------

    def replay(
        self, items: list[DeadLetter], broker: dramatiq.Broker, buffer: WriterBuffer
    ) -> ReplayReport:
        """Send each item through the normal path again; it leaves the dead letters."""
        report = ReplayReport()
        flush = False
        for item in items:
            why = self._replay_one(item, broker, buffer)
            if why:
                report.skipped[item.id] = why
                continue
            report.replayed.append(item.id)
            flush = flush or item.kind == "record"
        if flush:
            broker.enqueue(
                dramatiq.Message(
                    queue_name="card_write",
                    actor_name="flush_writer",
                    args=(),
                    kwargs={},
                    options={},
                )
            )
        return report

    def _replay_one(
        self, item: DeadLetter, broker: dramatiq.Broker, buffer: WriterBuffer
    ) -> str | None:
        if item.kind == "record":
            record = item.detail.get("record")
            if not record:
                return "stored before replay was possible (no full record); re-import instead"
            self._redis.hdel(self._keys.record_errors(), item.id.split(":", 1)[1])
            buffer.put(
                [BufferedRecord(SyncRecord.from_dict(record), int(item.detail.get("version", 0)))]
            )
            return None
        if item.kind == "reject":
            _, import_id, field_key = item.id.split(":", 2)
            raw = item.detail.get("raw") or {}
            if not raw:
                return "the reject kept no row values"
            self._redis.hdel(self._keys.import_rejects(import_id), field_key)
            broker.enqueue(
                dramatiq.Message(
                    queue_name="card_ingest",
                    actor_name="card_ingest",
                    args=(),
                    kwargs={
                        "import_id": import_id,
                        "source": item.detail.get("source", ""),
                        "rows": [[item.detail.get("line", 0), raw]],
                    },
                    options={},
                )
            )
            return None
        if item.kind == "message":
            _, queue, message_id = item.id.split(":", 2)
            body = self._redis.hget(f"{self._ns}:{queue}.XQ.msgs", message_id)
            if body is None:
                return "no longer in the dead-letter queue"
            message = dramatiq.Message.decode(body.encode("utf-8"))
            options = {
                k: v
                for k, v in message.options.items()
                if k not in ("retries", "traceback", "eta", "redis_message_id", "requeue_timestamp")
            }
            pipe = self._redis.pipeline()
            pipe.zrem(f"{self._ns}:{queue}.XQ", message_id)
            pipe.hdel(f"{self._ns}:{queue}.XQ.msgs", message_id)
            pipe.execute()
            broker.enqueue(dataclasses.replace(message, queue_name=queue, options=options))
            return None
        return f"unknown kind {item.kind}"

    def purge(self, items: list[DeadLetter]) -> int:
        """Forget these dead letters for good."""
        pipe = self._redis.pipeline(transaction=False)
        for item in items:
            if item.kind == "record":
                pipe.hdel(self._keys.record_errors(), item.id.split(":", 1)[1])
            elif item.kind == "reject":
                _, import_id, field_key = item.id.split(":", 2)
                pipe.hdel(self._keys.import_rejects(import_id), field_key)
            elif item.kind == "message":
                _, queue, message_id = item.id.split(":", 2)
                pipe.zrem(f"{self._ns}:{queue}.XQ", message_id)
                pipe.hdel(f"{self._ns}:{queue}.XQ.msgs", message_id)
        pipe.execute()
        return len(items)


def _record_letter(key: str, raw: str) -> DeadLetter:
    data = json.loads(raw)
    errors = data.get("errors") or []
    first = errors[0] if errors else {}
    code = data.get("error_code") or first.get("statusCode") or first.get("errorCode") or ""
    return DeadLetter(
        id=f"record:{key}",
        kind="record",
        reason=str(code),
        message="; ".join(str(e.get("message", "")) for e in errors),
        at=float(data.get("at", 0)),
        import_ids=list(data.get("import_ids") or []),
        card_ids=list(data.get("card_ids") or []),
        detail=data,
    )


def _reject_letter(import_id: str, field_key: str, raw: str) -> DeadLetter:
    data = json.loads(raw)
    return DeadLetter(
        id=f"reject:{import_id}:{field_key}",
        kind="reject",
        reason=str(data.get("reason", "")),
        message=f"{data.get('source', '')} line {data.get('line', '')}: "
        f"{data.get('field', '')} {data.get('reason', '')}",
        at=0.0,
        import_ids=[import_id],
        card_ids=[data["card_id"]] if data.get("card_id") else [],
        detail=data,
    )


def _message_letter(queue: str, message_id: str, raw: str, at: float | None) -> DeadLetter:
    data = json.loads(raw)
    kwargs = data.get("kwargs") or {}
    options = data.get("options") or {}
    trace = str(options.get("traceback") or "").strip().splitlines()
    return DeadLetter(
        id=f"message:{queue}:{message_id}",
        kind="message",
        reason=trace[-1].split(":", 1)[0] if trace else "retries exhausted",
        message=trace[-1] if trace else "",
        at=(at or 0) / 1000,
        import_ids=[kwargs["import_id"]] if kwargs.get("import_id") else [],
        card_ids=message_card_ids(data.get("actor_name", ""), kwargs),
        detail={
            "actor": data.get("actor_name"),
            "retries": options.get("retries"),
            "rows": len(kwargs.get("rows") or []),
            "traceback": options.get("traceback"),
        },
    )


def message_card_ids(actor: str, kwargs: dict[str, Any]) -> list[str]:
    """The card ids a message carries, where it names them."""
    if actor == "card_merge":
        return [str(c.get("card_id", "")) for c in kwargs.get("cards") or [] if c.get("card_id")]
    if actor == "card_write":
        return [
            str(card)
            for r in kwargs.get("records") or []
            for card in (r.get("record") or {}).get("card_ids") or []
        ]
    return []
