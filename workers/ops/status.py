"""Queue depth read correctly: ready, fetched-not-acked, delayed or retrying, dead — per stage."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from workers.queues import SENDER_PREFIX
from workers.salesforce.breaker import read_breaker
from workers.salesforce.writer import FLUSH_ORDER
from workers.state.import_tracker import ImportCounts, ImportTracker
from workers.state.keys import Keys

DRAMATIQ_NAMESPACE = "dramatiq"


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queue: str
    ready: int  # enqueued, nobody has fetched it
    in_flight: int  # fetched by a worker (prefetched or running), not acked
    delayed: int  # waiting for its eta: delayed sends and retries with backoff
    dead: int  # dead-lettered after its last retry

    @property
    def outstanding(self) -> int:
        return self.ready + self.in_flight + self.delayed


@dataclass
class Status:
    queues: list[QueueDepth]
    writer_pending: dict[str, int]
    writer_in_flight: dict[str, int]
    workers_alive: int
    record_errors: int
    needs_review: int
    api_calls: int
    api_usage: str
    imports: list[ImportCounts] = field(default_factory=list)
    taken_at: float = field(default_factory=time.time)
    # The writers' circuit breaker: why every writer is paused, and until when (epoch s).
    paused_reason: str = ""
    paused_until: float | None = None
    calls_in_flight: int = 0
    # Bulk API 2.0 ingest jobs the writers are waiting for: job id -> {sobject, records, state}
    bulk_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def drained(self) -> bool:
        return (
            all(q.outstanding == 0 for q in self.queues)
            and not any(self.writer_pending.values())
            and not any(self.writer_in_flight.values())
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "queues": [asdict(q) for q in self.queues],
            "writer_pending": self.writer_pending,
            "writer_in_flight": self.writer_in_flight,
            "workers_alive": self.workers_alive,
            "record_errors": self.record_errors,
            "needs_review": self.needs_review,
            "api_calls": self.api_calls,
            "api_usage": self.api_usage,
            "drained": self.drained,
            "imports": [i.to_dict() for i in self.imports],
            "taken_at": self.taken_at,
            "paused_reason": self.paused_reason,
            "paused_until": self.paused_until,
            "calls_in_flight": self.calls_in_flight,
            "bulk_jobs": self.bulk_jobs,
        }


def queue_depths(
    client: redis.Redis, queues: tuple[str, ...], *, namespace: str = DRAMATIQ_NAMESPACE
) -> list[QueueDepth]:
    """LLEN alone misses prefetched and delayed messages; read every place a message can wait."""
    acks: dict[str, list[str]] = {}
    for key in client.scan_iter(match=f"{namespace}:__acks__.*", count=1000):
        # key = dramatiq:__acks__.<worker id>.<queue>[.DQ]; worker ids contain no dots
        rest = key.split(":__acks__.", 1)[1]
        queue = rest.split(".", 1)[1] if "." in rest else ""
        acks.setdefault(queue, []).append(key)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(f"{namespace}:{queue}")
        pipe.hlen(f"{namespace}:{queue}.DQ.msgs")
        pipe.zcard(f"{namespace}:{queue}.XQ")
        for key in acks.get(queue, []):
            pipe.scard(key)
    raw = pipe.execute()
    depths = []
    position = 0
    for queue in queues:
        ready, delayed, dead = raw[position : position + 3]
        position += 3
        in_flight = sum(raw[position : position + len(acks.get(queue, []))])
        position += len(acks.get(queue, []))
        depths.append(QueueDepth(queue, int(ready), int(in_flight), int(delayed), int(dead)))
    return depths


def workers_alive(
    client: redis.Redis, *, heartbeat_timeout_ms: int, namespace: str = DRAMATIQ_NAMESPACE
) -> int:
    """Worker processes whose broker sent a heartbeat within the timeout (senders excluded)."""
    now_ms = int(time.time() * 1000)
    recent = client.zrangebyscore(
        f"{namespace}:__heartbeats__", now_ms - heartbeat_timeout_ms, "+inf"
    )
    return sum(1 for worker_id in recent if not worker_id.startswith(SENDER_PREFIX))


def read_status(
    client: redis.Redis,
    keys: Keys,
    queues: tuple[str, ...],
    *,
    heartbeat_timeout_ms: int,
    import_ids: list[str] | None = None,
    recent_imports: int = 5,
) -> Status:
    tracker = ImportTracker(client, keys)
    pipe = client.pipeline(transaction=False)
    for sobject in FLUSH_ORDER:
        pipe.hlen(keys.pending(sobject))
        pipe.hlen(keys.inflight(sobject))
    pipe.hlen(keys.record_errors())
    pipe.hlen(keys.needs_review())
    pipe.hget(keys.stats(), "api_calls")
    pipe.hget(keys.stats(), "api_usage")
    raw = pipe.execute()
    pending = {s: int(raw[2 * i]) for i, s in enumerate(FLUSH_ORDER)}
    in_flight = {s: int(raw[2 * i + 1]) for i, s in enumerate(FLUSH_ORDER)}
    record_errors, needs_review, api_calls, api_usage = raw[2 * len(FLUSH_ORDER) :]
    ids = import_ids if import_ids is not None else tracker.recent(recent_imports)
    breaker = read_breaker(client, keys.writer_breaker())
    now_ms = int(time.time() * 1000)
    # A job not polled for 10 minutes belongs to a writer that died; its batch came back.
    bulk_jobs = {
        job_id: info
        for job_id, raw in client.hgetall(keys.bulk_jobs()).items()
        if (info := json.loads(raw)).get("at", 0) > time.time() - 600
    }
    return Status(
        bulk_jobs=bulk_jobs,
        paused_reason=breaker.reason if breaker else "",
        paused_until=breaker.until if breaker else None,
        calls_in_flight=int(client.zcount(keys.calls_in_flight(), now_ms, "+inf")),
        queues=queue_depths(client, queues),
        writer_pending=pending,
        writer_in_flight=in_flight,
        workers_alive=workers_alive(client, heartbeat_timeout_ms=heartbeat_timeout_ms),
        record_errors=int(record_errors),
        needs_review=int(needs_review),
        api_calls=int(api_calls or 0),
        api_usage=str(api_usage or ""),
        imports=[tracker.counts(i) for i in ids],
    )


def render_status(status: Status) -> str:
    lines = [f"{'queue':<14}{'ready':>9}{'in flight':>11}{'delayed':>9}{'dead':>7}"]
    for q in status.queues:
        lines.append(f"{q.queue:<14}{q.ready:>9}{q.in_flight:>11}{q.delayed:>9}{q.dead:>7}")
    writer = ", ".join(
        f"{s} {status.writer_pending[s]} pending / {status.writer_in_flight[s]} in flight"
        for s in status.writer_pending
    )
    lines.append(f"writer        {writer}")
    lines.append(
        f"workers alive {status.workers_alive}    record errors {status.record_errors}    "
        f"needs review {status.needs_review}    "
        f"api calls {status.api_calls}" + (f" ({status.api_usage})" if status.api_usage else "")
    )
    if status.paused_until is not None:
        until = time.strftime("%H:%M:%S", time.localtime(status.paused_until))
        left = max(0.0, status.paused_until - time.time())
        lines.append(f"writers PAUSED until {until} ({left:.0f}s): {status.paused_reason}")
    for job_id, job in sorted(status.bulk_jobs.items()):
        lines.append(
            f"bulk job {job_id} {job.get('sobject', '')} {job.get('records', 0)} records "
            f"{job.get('state', '')}"
        )
    if status.calls_in_flight:
        lines.append(f"salesforce calls in flight {status.calls_in_flight}")
    lines.append("drained" if status.drained else "working")
    if status.imports:
        lines.append("")
        lines.append(
            f"{'import':<24}{'read':>8}{'rejected':>10}{'merged':>8}{'written':>9}{'failed':>8}"
        )
        for i in status.imports:
            lines.append(
                f"{i.import_id:<24}{i.read:>8}{i.rejected:>10}{i.merged:>8}{i.written:>9}{i.failed:>8}"
            )
    return "\n".join(lines)
