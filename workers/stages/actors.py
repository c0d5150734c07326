"""The four pipeline stages as dramatiq actors: load a chunk, decide (pipeline/), store, forward."""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import structlog

from pipeline.models import Card, Reject, SyncRecord
from pipeline.validation import validate_row
from workers.broker import broker  # noqa: F401  (sets the global broker before actors are declared)
from workers.runtime import get_runtime
from workers.stages.resolver import resolve_records
from workers.state.writer_buffer import BufferedRecord

log = structlog.get_logger(__name__)

RETRY_OPTIONS: dict[str, Any] = {"min_backoff": 500, "max_backoff": 30_000}


def _max_retries() -> int:
    return get_runtime().settings.worker.max_retries


@dramatiq.actor(queue_name="card_ingest", max_retries=_max_retries(), **RETRY_OPTIONS)
def card_ingest(import_id: str, source: str, rows: list[list[Any]]) -> None:
    """Validate raw rows ([line, {field: value}]); keep rejects, pass cards on to name-merge."""
    rt = get_runtime()
    cards: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for line, values in rows:
        outcome = validate_row(values, source=source, line=line)
        if isinstance(outcome, Reject):
            rejects.append(outcome)
        else:
            cards.append(outcome.to_dict())
    rt.tracker.add_rejects(import_id, rejects)
    if cards:
        card_merge.send(import_id=import_id, cards=cards)
    log.info("chunk_ingested", cards=len(cards), rejected=len(rejects))


@dramatiq.actor(queue_name="card_merge", max_retries=_max_retries(), **RETRY_OPTIONS)
def card_merge(import_id: str, cards: list[dict[str, Any]]) -> None:
    """Join each card to its person (atomically, in Redis); forward the chunk's persons."""
    rt = get_runtime()
    results = rt.persons.join([Card.from_dict(c) for c in cards], import_id)
    # Every person of the chunk goes on, changed or not: if a worker died between the join and
    # this send, the redelivered chunk finds its cards "unchanged" and would otherwise forward
    # nothing. Unchanged persons cost no API call (the ledger skips identical writes).
    persons = list(dict.fromkeys(r.person_key for r in results))
    changed = sum(1 for r in results if r.changed)
    merged_into = {gone: r.person_key for r in results for gone in r.merged_away}
    if persons or merged_into:
        card_map.send(import_id=import_id, person_keys=persons, merged_into=merged_into)
    log.info(
        "chunk_merged",
        cards=len(cards),
        cards_changed=changed,
        persons=len(persons),
        persons_merged=len(merged_into),
    )


@dramatiq.actor(queue_name="card_map", max_retries=_max_retries(), **RETRY_OPTIONS)
def card_map(
    import_id: str, person_keys: list[str], merged_into: dict[str, str] | None = None
) -> None:
    """Owner, Account and Salesforce records for each person; forward them to the writer, with
    the persons merged away (each to its current survivor), which the writer marks or drops."""
    rt = get_runtime()
    persons = list(rt.persons.load(person_keys).values())
    records = resolve_records(rt, persons, import_id)
    survivors = {gone: rt.persons.resolve(into) for gone, into in (merged_into or {}).items()}
    if records or survivors:
        card_write.send(
            import_id=import_id,
            records=[{"record": r.record.to_dict(), "version": r.version} for r in records],
            merged_into=survivors,
        )
    log.info("chunk_mapped", persons=len(persons), records=len(records), merged=len(survivors))


@dramatiq.actor(queue_name="card_write", max_retries=_max_retries(), **RETRY_OPTIONS)
def card_write(
    import_id: str, records: list[dict[str, Any]], merged_into: dict[str, str] | None = None
) -> None:
    """Buffer the records (latest version per external ID wins), apply the merge notices
    (person -> survivor), and flush what is due."""
    rt = get_runtime()
    rt.writer.accept(
        [BufferedRecord(SyncRecord.from_dict(r["record"]), int(r["version"])) for r in records],
        merged_into or {},
    )
    _flush_and_reschedule()


@dramatiq.actor(queue_name="card_write", max_retries=_max_retries(), **RETRY_OPTIONS)
def flush_writer() -> None:
    """The linger timer: flush partial batches whose oldest record has waited long enough."""
    get_runtime().redis.delete(get_runtime().keys.flush_tick())
    _flush_and_reschedule()


def _flush_and_reschedule() -> None:
    rt = get_runtime()
    writer = rt.writer
    report = writer.flush_due()
    if report.calls:
        log.info(
            "writer_flushed",
            calls=report.calls,
            written=report.written,
            failed=report.failed,
            retried=report.retried,
        )
    if writer.pending():
        delay = rt.settings.pipeline.linger_ms
        if report.paused_until is not None:
            # Every writer is paused (API budget): the timer wakes when the pause ends.
            delay = max(delay, int((report.paused_until - time.time()) * 1000) + 50)
        # One timer at a time; its key expires so a lost timer message cannot stall the buffer.
        if rt.redis.set(rt.keys.flush_tick(), "1", nx=True, px=delay + 5_000):
            flush_writer.send_with_options(delay=delay)
