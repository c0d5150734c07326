"""Write N pending Contacts through sObject Collections vs Bulk API 2.0 against the emulator at a
given latency; prints API calls and wall time of each (numbers, never pass/fail)."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import redis

from config.logging import configure_logging
from config.settings import LogFormat, load_settings
from demo.local_redis import start_local_redis
from emulators.salesforce.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from emulators.salesforce.server import start_emulator
from pipeline.models import SyncRecord
from workers.runtime import Runtime
from workers.salesforce.writer import WriterPolicy
from workers.state.writer_buffer import BufferedRecord


def records(count: int, tag: str) -> list[BufferedRecord]:
    return [
        BufferedRecord(
            SyncRecord(
                sobject="Contact",
                external_id_field="Sansan_Person_Id__c",
                external_id=f"{tag}-{i}",
                payload={"LastName": f"Name{i}", "Email": f"p{i}@{tag}.example.jp"},
                person_key=f"{tag}-{i}",
            ),
            1,
        )
        for i in range(count)
    ]


def run(settings, policy: WriterPolicy, count: int, writers: int, tag: str, emulator) -> None:
    runtimes = [Runtime(settings) for _ in range(writers)]
    for rt in runtimes:
        rt.writer.configure(policy)
        rt.writer.configured = True
    runtimes[0].buffer.put(records(count, tag))
    calls = emulator.api_calls()
    started = time.perf_counter()

    def drain(rt: Runtime) -> None:
        while rt.writer.pending():
            if not rt.writer.flush_due().calls:
                time.sleep(0.05)

    threads = [threading.Thread(target=drain, args=(rt,)) for rt in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    used = emulator.api_calls() - calls
    written = len(
        [
            r
            for r in emulator.store.query_records("Contact")
            if str(r.get("Sansan_Person_Id__c") or "").startswith(f"{tag}-")
        ]
    )
    print(
        f"{tag:<12}{count:>9}{writers:>9}{used:>11}{seconds:>10.1f}{count / seconds:>12.0f}"
        f"{written:>10}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--writers", type=int, default=8, help="parallel writers (threads)")
    parser.add_argument("--bulk-batch", type=int, default=10_000, help="records per Bulk job")
    args = parser.parse_args()
    configure_logging(LogFormat.CONSOLE, "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_local_redis(directory=Path(tmp) / "redis")
        emulator = start_emulator(data_dir=Path(tmp) / "emulator", latency_ms=args.latency_ms)
        try:
            settings = load_settings(
                redis_url=server.url,
                salesforce={
                    "login_url": emulator.url,
                    "auth_flow": "client_credentials",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "ca_bundle": str(emulator.ca_file),
                    "timeout_s": 600,
                },
                pipeline={"linger_ms": 0},
            )
            redis.Redis.from_url(server.url).flushall()
            print(f"latency {args.latency_ms} ms per API call")
            print(
                f"{'path':<12}{'records':>9}{'writers':>9}{'API calls':>11}{'wall s':>10}"
                f"{'records/s':>12}{'written':>10}"
            )
            base = WriterPolicy(max_calls_in_flight=10, call_lease_s=600)
            collections = replace(base, bulk_threshold=10**12)
            bulk = replace(base, bulk_threshold=1, bulk_batch_size=args.bulk_batch)
            run(settings, collections, args.records, args.writers, "collections", emulator)
            run(settings, bulk, args.records, args.writers, "bulk", emulator)
        finally:
            emulator.stop()
            server.stop()


if __name__ == "__main__":
    main()
