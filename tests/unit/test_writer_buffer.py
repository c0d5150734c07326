"""The writer buffer's Redis logic (fakeredis with Lua): coalescing, batching, linger, leases."""

import fakeredis
import pytest

from pipeline.models import SyncRecord
from workers.state.keys import Keys
from workers.state.writer_buffer import Blocked, BufferedRecord, WriterBuffer


@pytest.fixture()
def buffer() -> WriterBuffer:
    client = fakeredis.FakeRedis(decode_responses=True)
    return WriterBuffer(client, Keys("t"), batch_size=3, linger_ms=2000, lease_ms=10_000)


def rec(ext: str, version: int, sobject: str = "Contact", **payload) -> BufferedRecord:
    return BufferedRecord(SyncRecord(sobject, "Ext__c", ext, payload or {"LastName": ext}), version)


def test_newer_version_replaces_pending_and_older_is_ignored(buffer):
    buffer.put([rec("a", 2, LastName="second")], now_ms=0)
    buffer.put([rec("a", 1, LastName="first")], now_ms=0)
    buffer.put([rec("a", 3, LastName="third")], now_ms=0)
    assert buffer.depth("Contact").pending == 1
    batch = buffer.pop("Contact", now_ms=10_000)
    assert [(b.record.payload["LastName"], b.version) for b in batch] == [("third", 3)]


def test_partial_batch_waits_for_linger_full_batch_goes_at_once(buffer):
    buffer.put([rec("a", 1), rec("b", 1)], now_ms=1000)
    assert buffer.pop("Contact", now_ms=2000) == []
    assert len(buffer.pop("Contact", now_ms=3000)) == 2
    buffer.put([rec(x, 1) for x in "cdefg"], now_ms=5000)
    assert len(buffer.pop("Contact", now_ms=5000)) == 3  # a full batch, no waiting


def test_contacts_wait_while_accounts_are_pending_or_in_flight(buffer):
    buffer.put([rec("k", 0, sobject="Account")], now_ms=0)
    buffer.put([rec(x, 1) for x in "abc"], now_ms=0)
    with pytest.raises(Blocked):
        buffer.pop("Contact", after=("Account",), now_ms=0)
    accounts = buffer.pop("Account", now_ms=5000)
    with pytest.raises(Blocked):
        buffer.pop("Contact", after=("Account",), now_ms=5000)
    buffer.ack("Account", [a.record.external_id for a in accounts])
    assert len(buffer.pop("Contact", after=("Account",), now_ms=5000)) == 3


def test_expired_lease_returns_records_unless_a_newer_version_is_pending(buffer):
    buffer.put([rec("a", 1), rec("b", 1), rec("c", 1)], now_ms=0)
    assert len(buffer.pop("Contact", now_ms=0)) == 3
    buffer.put([rec("b", 2, LastName="newer")], now_ms=1)
    assert buffer.reclaim_expired("Contact", now_ms=20_000) == 2
    batch = {b.record.external_id: b for b in buffer.pop("Contact", now_ms=40_000)}
    assert set(batch) == {"a", "b", "c"}
    assert batch["b"].record.payload["LastName"] == "newer"


def test_a_record_in_flight_is_not_popped_twice(buffer):
    buffer.put([rec("a", 1)], now_ms=0)
    first = buffer.pop("Contact", now_ms=5000)
    buffer.put([rec("a", 2)], now_ms=5001)
    assert buffer.pop("Contact", now_ms=9000) == []
    buffer.ack("Contact", [first[0].record.external_id])
    assert [b.version for b in buffer.pop("Contact", now_ms=9000)] == [2]


def test_large_versions_survive_the_round_trip(buffer):
    buffer.put([rec("a", 10**12)], now_ms=0)
    assert [b.version for b in buffer.pop("Contact", now_ms=10_000)] == [10**12]
