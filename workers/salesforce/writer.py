"""Flushes the writer buffer to Salesforce in sObject Collections calls of up to 200 records."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog

from config.settings import Settings
from pipeline.models import SyncRecord
from pipeline.records import MERGED_MARKER_VERSION, merged_marker_record
from workers.salesforce.breaker import CircuitBreaker, WritersPaused
from workers.salesforce.errors import (
    CallFailure,
    RecordOutcome,
    SalesforceCallFailed,
    classify_record,
    duplicate_match_id,
)
from workers.salesforce.gateway import SalesforceGateway
from workers.salesforce.limiter import CallLimiter, CallSlotTimeout
from workers.state.import_tracker import ImportTracker
from workers.state.keys import Keys
from workers.state.merge_tombstones import MergeTombstones
from workers.state.sync_ledger import SyncLedger, payload_hash
from workers.state.writer_buffer import Blocked, BufferedRecord, WriterBuffer

log = structlog.get_logger(__name__)

# Accounts first: a Contact may refer to a new Account by its external ID.
FLUSH_ORDER: tuple[str, ...] = ("Account", "Contact")
DEPENDS_ON: dict[str, tuple[str, ...]] = {"Contact": ("Account",)}


@dataclass(frozen=True)
class WriterPolicy:
    """How the writer meets failures; `from_settings` reads them (defaults stated here)."""

    max_calls_in_flight: int = 10  # Salesforce calls at once across every worker process
    retry_attempts: int = 4  # tries of one call before its batch goes back to the buffer
    retry_initial_s: float = 0.2  # first backoff; doubles each try, with jitter
    retry_max_s: float = 5.0
    budget_usage_share: float = 0.9  # pause all writers when Sforce-Limit-Info reaches this
    budget_initial_pause_s: float = 1.0  # first pause; doubles while the budget stays spent
    budget_max_pause_s: float = 300.0
    record_max_retries: int = 5  # transient per-record failures before a record is dead
    # A call cannot outlast this (the client timeout plus a margin longer than any backoff), so
    # a killed writer's call slot and leased batch come back after it; renewed on every try.
    call_lease_s: float = 40.0
    # A backlog this large (pending records of one sObject) is written through Bulk API 2.0
    # ingest jobs of up to bulk_batch_size records instead of 200-record Collections calls.
    bulk_threshold: int = 10_000
    bulk_batch_size: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> WriterPolicy:
        sf, p = settings.salesforce, settings.pipeline
        return cls(
            max_calls_in_flight=sf.max_calls_in_flight,
            retry_attempts=sf.retry_attempts,
            retry_initial_s=sf.retry_initial_s,
            retry_max_s=sf.retry_max_s,
            budget_usage_share=sf.budget_usage_share,
            budget_initial_pause_s=sf.budget_initial_pause_s,
            budget_max_pause_s=sf.budget_max_pause_s,
            record_max_retries=sf.record_max_retries,
            # The margin outlasts the longest backoff (retry_max_s plus a jitter of at most
            # retry_initial_s <= retry_max_s), so a live call's slot and batch stay leased.
            call_lease_s=sf.timeout_s + max(10.0, 2 * sf.retry_max_s),
            bulk_threshold=p.bulk_threshold,
            bulk_batch_size=p.bulk_batch_size,
        )


@dataclass
class FlushReport:
    calls: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0  # records returned to the buffer (transient failures)
    linked: int = 0  # records linked to an existing record a duplicate rule matched
    paused_until: float | None = None  # the breaker is open: no writer calls until then
    deferred: bool = False  # a batch went back to the buffer; the timer flushes it later
    bulk_jobs: int = 0  # batches written through Bulk API 2.0
    by_sobject: dict[str, int] = field(default_factory=dict)


class _StopFlushing(Exception):
    """The flush loop ends: the batch was returned to the buffer for a later flush."""


def record_error_key(record: SyncRecord) -> str:
    return f"{record.sobject}/{record.external_id}"


class BatchWriter:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        buffer: WriterBuffer,
        ledger: SyncLedger,
        tracker: ImportTracker,
        gateway: SalesforceGateway,
        *,
        contact_external_id_field: str = "Sansan_Person_Id__c",
        merged_into_field: str = "Sansan_Merged_Into__c",
        policy: WriterPolicy | None = None,
    ) -> None:
        self._redis = client
        self._keys = keys
        self.buffer = buffer
        self._ledger = ledger
        self._tracker = tracker
        self._gateway = gateway
        self._tombstones = MergeTombstones(client, keys)
        self._contact_external_id_field = contact_external_id_field
        self._merged_into_field = merged_into_field
        self.configured = False
        self.configure(policy or WriterPolicy())

    def configure(self, policy: WriterPolicy) -> None:
        """The writer's policy; its call part governs every Salesforce call of the gateway."""
        self.policy = policy
        self._gateway.calls.configure(policy)
        self.buffer.lease_ms = int(policy.call_lease_s * 1000)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._gateway.calls.breaker

    @property
    def limiter(self) -> CallLimiter:
        return self._gateway.calls.limiter

    def accept(self, records: list[BufferedRecord], merged_into: dict[str, str]) -> None:
        """Buffer the records of a `card_write` message and apply its merge notices.

        A merged-away person is remembered first (so a live record of it that arrives later is
        caught before its write), then its waiting records are dropped, and a marker is buffered
        if Salesforce has its Contact. A write racing this finds the tombstone after it, see
        `_write`."""
        markers: list[BufferedRecord] = []
        if merged_into:
            gone = list(merged_into)
            self._tombstones.record(merged_into)
            self.buffer.discard("Contact", gone)
            written = self._ledger.salesforce_ids("Contact", gone)
            markers = [
                self._marker(self._contact_external_id_field, p, merged_into[p]) for p in written
            ]
        if records or markers:
            self.buffer.put(markers + records)

    def flush_due(self) -> FlushReport:
        """Write every full batch, and partial ones whose oldest record has lingered long enough."""
        report = FlushReport()
        for sobject in FLUSH_ORDER:
            self.buffer.reclaim_expired(sobject)
        progressed = True
        while progressed:
            progressed = False
            paused = self.breaker.state()
            if paused is not None:
                report.paused_until = paused.until
                return report
            for sobject in FLUSH_ORDER:
                bulk = self.buffer.depth(sobject).pending >= self.policy.bulk_threshold
                try:
                    batch = self.buffer.pop(
                        sobject,
                        after=DEPENDS_ON.get(sobject, ()),
                        limit=self.policy.bulk_batch_size if bulk else None,
                    )
                except Blocked:
                    continue
                if batch:
                    try:
                        self._write(sobject, batch, report, bulk=bulk)
                    except _StopFlushing:
                        return report
                    progressed = True
        return report

    def pending(self) -> int:
        return sum(d.pending + d.inflight for d in (self.buffer.depth(s) for s in FLUSH_ORDER))

    def _merged_away(self, batch: list[BufferedRecord]) -> dict[str, str]:
        """person key -> survivor, for live person records whose person was merged into another."""
        return self._tombstones.survivors(
            [b.record.person_key for b in batch if b.version < MERGED_MARKER_VERSION]
        )

    def _marker(self, external_id_field: str, external_id: str, survivor: str) -> BufferedRecord:
        return BufferedRecord(
            merged_marker_record(
                external_id_field=external_id_field,
                external_id=external_id,
                survivor=survivor,
                merged_into_field=self._merged_into_field,
            ),
            MERGED_MARKER_VERSION,
        )

    def _write(
        self, sobject: str, batch: list[BufferedRecord], report: FlushReport, *, bulk: bool = False
    ) -> None:
        entries = self._ledger.get(sobject, [b.record.external_id for b in batch])
        if sobject == "Contact":
            # A person merged away while its record travelled here is never written live:
            # marked if Salesforce has it already, dropped if not
            gone = self._merged_away(batch)
            if gone:
                batch = [
                    self._marker(
                        b.record.external_id_field, b.record.external_id, gone[b.record.person_key]
                    )
                    if b.record.person_key in gone and b.record.external_id in entries
                    else b
                    for b in batch
                    if b.record.person_key not in gone or b.record.external_id in entries
                ]
                dropped = {k for k in gone if k not in entries}
                self.buffer.ack(sobject, sorted(dropped))
        to_send: list[BufferedRecord] = []
        unchanged: list[BufferedRecord] = []
        for item in batch:
            entry = entries.get(item.record.external_id)
            if entry and (
                entry.version > item.version or entry.payload_hash == payload_hash(item.record)
            ):
                unchanged.append(item)  # a replay, or an older view: Salesforce already has it
            else:
                to_send.append(item)
        results: list[dict[str, Any]] = []
        if to_send:
            started = time.perf_counter()
            ext_field = to_send[0].record.external_id_field
            try:
                leased = [b.record.external_id for b in batch]
                payloads = [{**b.record.payload, ext_field: b.record.external_id} for b in to_send]
                renew = lambda: self.buffer.extend(sobject, leased)  # noqa: E731
                if bulk:
                    results = self._gateway.bulk_upsert(
                        sobject,
                        ext_field,
                        payloads,
                        on_poll=lambda job, state: self._bulk_polled(
                            sobject, job, state, len(payloads), renew
                        ),
                        renew=renew,
                    )
                else:
                    results = self._gateway.upsert_collection(
                        sobject, ext_field, payloads, renew=renew
                    )
            except SalesforceCallFailed as failed:
                if failed.error.failure is not CallFailure.PERMANENT:
                    self._defer(sobject, batch, report, failed.error.error_code)
                # Retrying cannot help (e.g. a field the org lacks): each record is dead,
                # to be replayed once the cause is fixed.
                results = [
                    {"success": False, "errors": [failed.error.as_record_error()]} for _ in to_send
                ]
            except (WritersPaused, CallSlotTimeout) as stopped:
                self._defer(sobject, batch, report, type(stopped).__name__)
            except Exception:
                # Not a Salesforce failure (a bug, Redis): give the batch back, let dramatiq retry.
                self.buffer.requeue(sobject, [b.record.external_id for b in batch])
                raise
            report.calls += 1
            report.bulk_jobs += int(bulk)
            log.info(
                "batch_flushed",
                sobject=sobject,
                bulk=bulk,
                records=len(to_send),
                api_ms=round((time.perf_counter() - started) * 1000),
            )
        results = self._link_duplicates(sobject, to_send, results, report)
        retry = self._apply_results(sobject, to_send, results, unchanged, report)
        if retry:
            # Lock contention clears in moments: wait a little before the record's next try.
            self.buffer.requeue(sobject, retry, delay_ms=int(self.policy.retry_initial_s * 1000))
        retrying = set(retry)
        self.buffer.ack(
            sobject, [b.record.external_id for b in batch if b.record.external_id not in retrying]
        )
        if sobject == "Contact":
            # Merged after the check above but before the ledger knew the record: mark it now.
            # (A merge after this check sees the ledger entry and marks it itself.)
            written = [b for b, r in zip(to_send, results, strict=True) if r.get("success")]
            late = self._merged_away(written)
            if late:
                self.buffer.put(
                    [
                        self._marker(
                            b.record.external_id_field,
                            b.record.external_id,
                            late[b.record.person_key],
                        )
                        for b in written
                        if b.record.person_key in late
                    ]
                )

    def _bulk_polled(self, sobject: str, job_id: str, state: str, records: int, renew: Any) -> None:
        """Show the job in `status` while it runs; keep the batch's lease alive."""
        renew()
        if state in ("JobComplete", "Failed", "Aborted"):
            self._redis.hdel(self._keys.bulk_jobs(), job_id)
        else:
            info = {"sobject": sobject, "records": records, "state": state, "at": time.time()}
            self._redis.hset(self._keys.bulk_jobs(), job_id, json.dumps(info))

    def _defer(
        self, sobject: str, batch: list[BufferedRecord], report: FlushReport, why: str
    ) -> None:
        """Return the whole batch to the buffer (a newer version that arrived meanwhile wins);
        after a failure it waits the longest backoff, so an outage is not hammered."""
        paused = self.breaker.state()
        delay_ms = 0 if paused else int(self.policy.retry_max_s * 1000)
        self.buffer.requeue(sobject, [b.record.external_id for b in batch], delay_ms=delay_ms)
        self._redis.hincrby(self._keys.stats(), "batches_deferred", 1)
        report.deferred = True
        report.paused_until = paused.until if paused else None
        log.warning("batch_deferred", sobject=sobject, records=len(batch), reason=why)
        raise _StopFlushing

    def _link_duplicates(
        self,
        sobject: str,
        sent: list[BufferedRecord],
        results: list[dict[str, Any]],
        report: FlushReport,
    ) -> list[dict[str, Any]]:
        """A record a duplicate rule blocked updates the matching record instead (and takes
        our external ID), so the person is linked to what the org already has."""
        links = {
            index: match
            for index, result in enumerate(results)
            if classify_record(result) is RecordOutcome.DUPLICATE
            and (match := duplicate_match_id(result))
        }
        if not links:
            return results
        records = []
        for index, match in links.items():
            record = sent[index].record
            records.append(
                {**record.payload, record.external_id_field: record.external_id, "Id": match}
            )
        try:
            linked = self._gateway.update_collection(sobject, records)
        except (SalesforceCallFailed, WritersPaused, CallSlotTimeout):
            return results  # stays a duplicate: dead-lettered, replayable
        merged = list(results)
        for (index, match), result in zip(links.items(), linked, strict=True):
            if result.get("success"):
                merged[index] = {"id": match, "success": True, "errors": [], "created": False}
                report.linked += 1
                log.info("record_linked_to_duplicate", sobject=sobject, id=match)
            else:
                merged[index] = result
        return merged

    # Outcomes -----------------------------------------------------------------------------------

    def _apply_results(
        self,
        sobject: str,
        sent: list[BufferedRecord],
        results: list[dict[str, Any]],
        unchanged: list[BufferedRecord],
        report: FlushReport,
    ) -> list[str]:
        """Ledger, dead letters and card outcomes; returns the external IDs to retry later."""
        written: list[tuple[SyncRecord, int, str]] = []
        errors: dict[str, str] = {}
        ok_cards: list[str] = [c for b in unchanged for c in b.record.card_ids]
        failed_cards: list[str] = []
        created = updated = 0
        retry: list[str] = []
        retry_counts = self._retry_counts(sobject, sent, results)
        for item, result in zip(sent, results, strict=True):
            record = item.record
            outcome = classify_record(result)
            if outcome is RecordOutcome.RETRY and (
                retry_counts.get(record_error_key(record), 0) <= self.policy.record_max_retries
            ):
                retry.append(record.external_id)
            elif outcome is RecordOutcome.WRITTEN:
                written.append((record, item.version, result.get("id", "")))
                ok_cards.extend(record.card_ids)
                if result.get("created"):
                    created += 1
                else:
                    updated += 1
            else:
                failed_cards.extend(record.card_ids)
                errors[record_error_key(record)] = json.dumps(
                    {
                        "sobject": sobject,
                        "external_id": record.external_id,
                        "errors": result.get("errors", []),
                        "error_code": _first_code(result),
                        "payload": record.payload,
                        "card_ids": list(record.card_ids),
                        "import_ids": list(record.import_ids),
                        "record": record.to_dict(),
                        "version": item.version,
                        "at": time.time(),
                    },
                    ensure_ascii=False,
                )
                log.warning(
                    "record_failed",
                    sobject=sobject,
                    external_id=record.external_id,
                    errors=[e.get("statusCode") for e in result.get("errors", [])],
                )
        pipe = self._redis.pipeline(transaction=False)
        self._ledger.record_written(sobject, written, pipe)
        if written:
            done = [record_error_key(r) for r, _, _ in written]
            pipe.hdel(self._keys.record_errors(), *done)
            pipe.hdel(self._keys.record_retries(), *done)
        if errors:
            pipe.hset(self._keys.record_errors(), mapping=errors)
            pipe.hdel(self._keys.record_retries(), *errors)
        if retry:
            pipe.hincrby(self._keys.stats(), "record_retries", len(retry))
        stats = self._keys.stats()
        pipe.hincrby(stats, f"{sobject}.created", created)
        pipe.hincrby(stats, f"{sobject}.updated", updated)
        pipe.hincrby(stats, "record_failures", len(errors))
        pipe.execute()
        self._mark_cards(ok_cards, failed_cards)
        report.written += len(written)
        report.skipped += len(unchanged)
        report.failed += len(errors)
        report.retried += len(retry)
        report.by_sobject[sobject] = report.by_sobject.get(sobject, 0) + len(sent)
        return retry

    def _retry_counts(
        self, sobject: str, sent: list[BufferedRecord], results: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Count one more transient failure for each record that has one, atomically."""
        keys = [
            record_error_key(item.record)
            for item, result in zip(sent, results, strict=True)
            if classify_record(result) is RecordOutcome.RETRY
        ]
        if not keys:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.hincrby(self._keys.record_retries(), key, 1)
        return dict(zip(keys, (int(n) for n in pipe.execute()), strict=True))

    def _mark_cards(self, ok_cards: list[str], failed_cards: list[str]) -> None:
        if not ok_cards and not failed_cards:
            return
        cards = ok_cards + failed_cards
        imports = self._redis.hmget(self._keys.card_import(), cards)
        outcomes: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for index, (card_id, import_id) in enumerate(zip(cards, imports, strict=True)):
            if import_id:
                outcomes[import_id][0 if index < len(ok_cards) else 1].append(card_id)
        self._tracker.mark_cards(dict(outcomes))


def _first_code(result: dict[str, Any]) -> str:
    for error in result.get("errors", []):
        code = error.get("statusCode") or error.get("errorCode")
        if code:
            return str(code)
    return ""
