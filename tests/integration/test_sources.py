"""Any CardSource feeds the pipeline as a CSV file does: the seam the Sansan API source will use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from emulators.salesforce.server import start_emulator
from pipeline.models import Reject
from tests.integration.harness import (
    pipeline_env,
    pipeline_runtime,
    running_workers,
    salesforce_client,
    wait_drained,
)
from workers.sources.importer import import_cards


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


@dataclass
class RecordsSource:
    """Cards as an API would hand them over: no file, no header row."""

    source: str
    items: list[Row | Reject]
    encoding: str = "utf-8"
    unknown_headers: tuple[str, ...] = ("memo",)

    def rows(self) -> Iterator[Row | Reject]:
        yield from self.items


def card(line: int, card_id: str, last_name: str, email: str) -> Row:
    return Row(
        line,
        {
            "card_id": card_id,
            "company_name": "株式会社サンプル商事",
            "last_name": last_name,
            "first_name": "太郎",
            "email": email,
            "owner_email": "tanaka@example.co.jp",
            "exchange_date": "2024/05/01",
        },
    )


def test_an_in_memory_source_is_imported_merged_and_written(redis_server, redis_client, tmp_path):
    source = RecordsSource(
        "sansan-api",
        [
            card(1, "A1", "山田", "yamada@example.co.jp"),
            card(2, "A2", "山田", "yamada@example.co.jp"),  # the same person: merged
            Reject("sansan-api", 3, "card_id", "unreadable record"),
            card(4, "A4", "川口", "kawaguchi@example.co.jp"),
        ],
    )
    emulator = start_emulator(data_dir=tmp_path / "emulator")
    env = pipeline_env(redis_server.url, emulator)
    try:
        with pipeline_runtime(env) as rt:
            with running_workers(env, tmp_path / "workers.log", processes=1) as workers:
                started = import_cards(rt, source)
                wait_drained(rt, started.import_id, workers)
            counts = rt.tracker.counts(started.import_id)
            rejects = rt.tracker.rejects(started.import_id)
            info = rt.redis.hgetall(rt.keys.import_info(started.import_id))
        contacts = salesforce_client(emulator).query_all(
            "SELECT Email FROM Contact ORDER BY Email"
        )["records"]
    finally:
        emulator.stop()
    assert (started.source, started.rows, started.encoding) == ("sansan-api", 4, "utf-8")
    assert (counts.source, counts.read, counts.rejected, counts.written) == ("sansan-api", 4, 1, 3)
    assert [(r.line, r.reason) for r in rejects] == [(3, "unreadable record")]
    assert (info["encoding"], info["unknown_headers"]) == ("utf-8", '["memo"]')
    assert [c["Email"] for c in contacts] == ["kawaguchi@example.co.jp", "yamada@example.co.jp"]
