"""Flushes the writer buffer to Salesforce in sObject Collections calls of up to 200 records."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog

from pipeline.models import SyncRecord
from pipeline.records import merged_marker_record
from workers.import_tracker import ImportTracker
from workers.keys import Keys
from workers.salesforce import SalesforceGateway
from workers.sync_ledger import SyncLedger, payload_hash
from workers.writer_buffer import MERGED_MARKER_VERSION, Blocked, BufferedRecord, WriterBuffer

log = structlog.get_logger(__name__)

# Accounts first: a Contact may refer to a new Account by its external ID.
FLUSH_ORDER: tuple[str, ...] = ("Account", "Contact")
DEPENDS_ON: dict[str, tuple[str, ...]] = {"Contact": ("Account",)}


@dataclass
class FlushReport:
    calls: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    by_sobject: dict[str, int] = field(default_factory=dict)


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
        merged_into_field: str = "Sansan_Merged_Into__c",
    ) -> None:
        self._redis = client
        self._keys = keys
        self.buffer = buffer
        self._ledger = ledger
        self._tracker = tracker
        self._gateway = gateway
        self._merged_into_field = merged_into_field

    def flush_due(self) -> FlushReport:
        """Write every full batch, and partial ones whose oldest record has lingered long enough."""
        report = FlushReport()
        for sobject in FLUSH_ORDER:
            self.buffer.reclaim_expired(sobject)
        progressed = True
        while progressed:
            progressed = False
            for sobject in FLUSH_ORDER:
                try:
                    batch = self.buffer.pop(sobject, after=DEPENDS_ON.get(sobject, ()))
                except Blocked:
                    continue
                if batch:
                    self._write(sobject, batch, report)
                    progressed = True
        return report

    def pending(self) -> int:
        return sum(d.pending + d.inflight for d in (self.buffer.depth(s) for s in FLUSH_ORDER))

    def _merged_away(self, batch: list[BufferedRecord]) -> dict[str, str]:
        """person key -> survivor, for live person records whose person was merged into another."""
        keys = [b.record.person_key for b in batch if b.version < MERGED_MARKER_VERSION]
        keys = [k for k in keys if k]
        if not keys:
            return {}
        aliases = self._redis.hmget(self._keys.person_alias(), keys)
        return {k: a for k, a in zip(keys, aliases, strict=True) if a}

    def _marker(self, record: SyncRecord, survivor: str) -> BufferedRecord:
        return BufferedRecord(
            merged_marker_record(
                external_id_field=record.external_id_field,
                external_id=record.external_id,
                survivor=survivor,
                merged_into_field=self._merged_into_field,
            ),
            MERGED_MARKER_VERSION,
        )

    def _write(self, sobject: str, batch: list[BufferedRecord], report: FlushReport) -> None:
        entries = self._ledger.get(sobject, [b.record.external_id for b in batch])
        if sobject == "Contact":
            # A person merged away while its record travelled here is never written live:
            # marked if Salesforce has it already, dropped if not
            gone = self._merged_away(batch)
            if gone:
                batch = [
                    self._marker(b.record, gone[b.record.person_key])
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
                results = self._gateway.upsert_collection(
                    sobject,
                    ext_field,
                    [{**b.record.payload, ext_field: b.record.external_id} for b in to_send],
                )
            except Exception:
                self.buffer.requeue(sobject, [b.record.external_id for b in to_send])
                raise
            report.calls += 1
            log.info(
                "batch_flushed",
                sobject=sobject,
                records=len(to_send),
                api_ms=round((time.perf_counter() - started) * 1000),
            )
        self._apply_results(sobject, to_send, results, unchanged, report)
        self.buffer.ack(sobject, [b.record.external_id for b in batch])
        if sobject == "Contact":
            # Merged after the check above but before the ledger knew the record: mark it now.
            # (A merge after this check sees the ledger entry and marks it itself.)
            written = [b for b, r in zip(to_send, results, strict=True) if r.get("success")]
            late = self._merged_away(written)
            if late:
                self.buffer.put(
                    [
                        self._marker(b.record, late[b.record.person_key])
                        for b in written
                        if b.record.person_key in late
                    ]
                )

    def _apply_results(
        self,
        sobject: str,
        sent: list[BufferedRecord],
        results: list[dict[str, Any]],
        unchanged: list[BufferedRecord],
        report: FlushReport,
    ) -> None:
        written: list[tuple[SyncRecord, int, str]] = []
        errors: dict[str, str] = {}
        ok_cards: list[str] = [c for b in unchanged for c in b.record.card_ids]
        failed_cards: list[str] = []
        created = updated = 0
        for item, result in zip(sent, results, strict=True):
            record = item.record
            if result.get("success"):
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
                        "payload": record.payload,
                        "card_ids": list(record.card_ids),
                        "import_ids": list(record.import_ids),
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
            pipe.hdel(self._keys.record_errors(), *(record_error_key(r) for r, _, _ in written))
        if errors:
            pipe.hset(self._keys.record_errors(), mapping=errors)
        stats = self._keys.stats()
        pipe.hincrby(stats, f"{sobject}.created", created)
        pipe.hincrby(stats, f"{sobject}.updated", updated)
        pipe.hincrby(stats, "record_failures", len(errors))
        pipe.execute()
        self._mark_cards(ok_cards, failed_cards)
        report.written += len(written)
        report.skipped += len(unchanged)
        report.failed += len(errors)
        report.by_sobject[sobject] = report.by_sobject.get(sobject, 0) + len(sent)

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
