"""Stream a card source into the card_ingest queue in chunks, and account for every row read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from pipeline.models import Reject
from workers.runtime import Runtime
from workers.sources.base import CardSource
from workers.sources.csv_file import CardFile
from workers.state.import_tracker import new_import_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ImportStarted:
    import_id: str
    source: str
    rows: int
    chunks: int
    encoding: str
    initial_mapping: bool


def import_file(
    rt: Runtime, path: Path, *, chunk_size: int | None = None, source_name: str | None = None
) -> ImportStarted:
    """Read a CSV file once into the pipeline; bad headers or encoding raise before anything."""
    return import_cards(rt, CardFile(path, source_name=source_name), chunk_size=chunk_size)


def import_cards(rt: Runtime, cards: CardSource, *, chunk_size: int | None = None) -> ImportStarted:
    """Read `cards` once, sending raw rows to card_ingest and rejects to the import's record."""
    from workers.stages import card_ingest

    size = chunk_size or rt.settings.pipeline.chunk_size
    import_id = new_import_id()
    rt.tracker.start(import_id, cards.source)
    initial = rt.owners.begin_import(import_id)
    log.info("import_started", import_id=import_id, source=cards.source, encoding=cards.encoding)
    rows = chunks = 0
    chunk: list[list[Any]] = []
    rejects: list[Reject] = []

    def send() -> None:
        nonlocal chunks
        # Count rows read before sending, so `read` is never behind the stages downstream.
        rt.tracker.add_read(import_id, len(chunk))
        rt.broker.enqueue(
            card_ingest.message(import_id=import_id, source=cards.source, rows=list(chunk))
        )
        chunk.clear()
        chunks += 1

    for item in cards.rows():
        rows += 1
        if isinstance(item, Reject):
            rejects.append(item)
            rt.tracker.add_read(import_id, 1)
        else:
            chunk.append([item.line, item.values])
            if len(chunk) >= size:
                send()
    if chunk:
        send()
    rt.tracker.add_rejects(import_id, rejects)
    rt.tracker.finish_reading(
        import_id, encoding=cards.encoding, unknown_headers=list(cards.unknown_headers)
    )
    log.info("import_read", import_id=import_id, rows=rows, chunks=chunks)
    return ImportStarted(import_id, cards.source, rows, chunks, cards.encoding, initial)
