"""The writer against a misbehaving Salesforce: the emulator injects faults, Redis is real."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from dramatiq.brokers.redis import RedisBroker

from config.settings import load_settings
from emulators.salesforce.server import RunningEmulator, start_emulator
from pipeline.models import SyncRecord
from tests.integration.harness import pipeline_env, salesforce_client
from tests.waiting import wait_until
from workers.ops.status import read_status, render_status
from workers.queues import QUEUES
from workers.runtime import Runtime
from workers.salesforce.errors import SalesforceCallFailed
from workers.salesforce.writer import FlushReport, WriterPolicy
from workers.state.dead_letters import DeadLetterStore
from workers.state.writer_buffer import BufferedRecord

FAST = WriterPolicy(retry_attempts=3, retry_initial_s=0.01, retry_max_s=0.05)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    running = start_emulator(data_dir=tmp_path_factory.mktemp("faults-emulator"))
    yield running
    running.stop()


@pytest.fixture()
def rt(redis_server, redis_client, emulator, monkeypatch) -> Iterator[Runtime]:
    emulator.faults.clear()
    emulator.config.daily_api_limit = 1_000_000
    env = pipeline_env(redis_server.url, emulator, CARDSYNC_PIPELINE__LINGER_MS="0")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runtime = Runtime(load_settings())
    runtime.writer.configure(FAST)
    yield runtime
    emulator.faults.clear()


def contact(person: str, last_name: str, cards: tuple[str, ...] = ()) -> SyncRecord:
    return SyncRecord(
        sobject="Contact",
        external_id_field="Sansan_Person_Id__c",
        external_id=person,
        payload={"LastName": last_name},
        person_key=person,
        card_ids=cards or (f"card-{person}",),
        import_ids=("imp-1",),
    )


def put(rt: Runtime, *records: SyncRecord, version: int = 1) -> None:
    rt.buffer.put([BufferedRecord(r, version) for r in records])


def impatient_runtime(rt: Runtime, *, timeout_s: float) -> Runtime:
    """Another process's runtime on the same Redis, whose Salesforce calls time out sooner."""
    salesforce = rt.settings.salesforce.model_copy(update={"timeout_s": timeout_s})
    other = Runtime(rt.settings.model_copy(update={"salesforce": salesforce}))
    other.writer.configure(FAST)
    return other


def first_flush_that_writes(rt: Runtime, *, what: str) -> FlushReport:
    """Flush until a flush writes (a backoff or a pause ran out); that flush's report."""

    def flush() -> FlushReport | None:
        report = rt.writer.flush_due()
        return report if report.written else None

    return wait_until(flush, timeout_s=10, what=what)


def last_names(emulator: RunningEmulator, prefix: str) -> dict[str, str]:
    rows = emulator.store.query_records("Contact")
    return {
        r["Sansan_Person_Id__c"]: r["LastName"]
        for r in rows
        if (r.get("Sansan_Person_Id__c") or "").startswith(prefix)
    }


def test_transient_failures_are_retried_within_one_flush(rt, emulator):
    emulator.faults.update(seed=1, error_rates={"SERVER_UNAVAILABLE": 0.5})
    rt.writer.configure(replace(FAST, retry_attempts=12))
    put(rt, *(contact(f"tr-{i}", f"Name{i}") for i in range(5)))
    report = rt.writer.flush_due()
    assert report.written == 5 and not report.deferred
    assert len(last_names(emulator, "tr-")) == 5
    assert emulator.faults.counts().get("SERVER_UNAVAILABLE", 0) >= 1


def test_a_batch_that_keeps_failing_returns_to_the_buffer_and_a_newer_version_wins(rt, emulator):
    emulator.faults.update(error_rates={"UNABLE_TO_LOCK_ROW": 1.0})
    put(rt, contact("nv-1", "Old"), contact("nv-2", "Same"), version=1)
    report = rt.writer.flush_due()
    assert report.deferred and report.written == 0
    assert rt.buffer.depth("Contact").pending == 2  # back in the buffer, none leased
    assert rt.buffer.depth("Contact").inflight == 0
    put(rt, contact("nv-1", "New"), version=2)  # arrived while Salesforce was failing
    emulator.faults.clear()
    # A deferred batch waits the longest backoff; the newer version goes with it.
    assert first_flush_that_writes(rt, what="the deferred batch").written == 2
    assert last_names(emulator, "nv-") == {"nv-1": "New", "nv-2": "Same"}


def test_dropped_connections_and_timeouts_are_retried_and_create_no_duplicate(rt, emulator):
    emulator.faults.update(seed=1, drop_rate=0.5)
    rt.writer.configure(replace(FAST, retry_attempts=12))
    put(rt, *(contact(f"dr-{i}", "Dropped") for i in range(3)))
    assert rt.writer.flush_due().written == 3
    emulator.faults.update(drop_rate=0.0, slow_rate=1.0, slow_ms=400)
    impatient = impatient_runtime(rt, timeout_s=0.1)  # gives up before the slow answer
    put(rt, contact("sl-1", "Slow"))
    report = impatient.writer.flush_due()
    assert report.deferred
    emulator.faults.update(slow_rate=0.0)
    # The slow call finishes on the server and writes; the retry then upserts the same record.
    wait_until(lambda: last_names(emulator, "sl-"), timeout_s=10, what="the slow call's write")
    assert first_flush_that_writes(rt, what="the retry").written == 1
    rows = [
        r for r in emulator.store.query_records("Contact") if r["LastName"] in ("Dropped", "Slow")
    ]
    assert len(rows) == 4  # every retry was an upsert by external ID: no second record


def test_an_expired_session_is_renewed_once_for_all_threads(rt, emulator):
    gateway = rt.gateway
    assert gateway.user_id  # logged in
    logins = gateway.logins
    emulator.api.auth.expire_all()
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            gateway.upsert_collection(
                "Contact",
                "Sansan_Person_Id__c",
                [{"LastName": "Session", "Sansan_Person_Id__c": f"se-{n}"}],
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert gateway.logins == logins + 1
    assert len(last_names(emulator, "se-")) == 6


def test_request_limit_exceeded_pauses_every_writer_until_a_time_then_resumes(rt, emulator):
    emulator.faults.limit_episode(0.5)
    rt.writer.configure(replace(FAST, budget_initial_pause_s=0.3))
    put(rt, contact("bu-1", "Budget"))
    report = rt.writer.flush_due()
    assert report.deferred and report.paused_until is not None
    # Another writer (another process) sees the same pause in Redis and does not call.
    other = Runtime(rt.settings)
    other.writer.configure(FAST)
    calls = emulator.api_calls()
    assert other.writer.flush_due().paused_until is not None
    assert emulator.api_calls() == calls
    status = read_status(rt.redis, rt.keys, QUEUES, heartbeat_timeout_ms=60_000)
    assert "REQUEST_LIMIT_EXCEEDED" in status.paused_reason
    assert "PAUSED" in render_status(status)
    first_flush_that_writes(rt, what="the pause to end")
    assert last_names(emulator, "bu-") == {"bu-1": "Budget"}
    assert read_status(rt.redis, rt.keys, QUEUES, heartbeat_timeout_ms=60_000).paused_until is None


def test_api_usage_near_the_daily_limit_pauses_writers(rt, emulator):
    used = emulator.api.api_usage()
    emulator.config.daily_api_limit = used + 4
    rt.writer.configure(replace(FAST, budget_usage_share=0.5))
    put(rt, contact("us-1", "Usage"))
    assert rt.writer.flush_due().written == 1  # the call itself went through
    state = rt.writer.breaker.state()
    assert state is not None and "API usage" in state.reason


def test_a_refused_record_is_dead_lettered_and_the_rest_of_the_batch_written(rt, emulator):
    emulator.faults.update(record_failures=[{"field": "LastName", "value": "TooLong"}])
    put(
        rt,
        contact("pr-1", "Fine"),
        contact("pr-2", "TooLong", ("c-a", "c-b")),
        contact("pr-3", "Ok"),
    )
    report = rt.writer.flush_due()
    assert (report.written, report.failed) == (2, 1)
    assert last_names(emulator, "pr-") == {"pr-1": "Fine", "pr-3": "Ok"}
    [letter] = DeadLetterStore(rt.redis, rt.keys).list(kinds=("record",))
    assert letter.id == "record:Contact/pr-2"
    assert letter.reason == "STRING_TOO_LONG"
    assert letter.card_ids == ["c-a", "c-b"]
    assert letter.import_ids == ["imp-1"]
    assert letter.detail["payload"] == {"LastName": "TooLong"}


def test_record_lock_contention_is_retried_then_dead_lettered(rt, emulator):
    emulator.faults.update(record_lock_rate=1.0)
    put(rt, contact("lk-1", "Locked"))
    rt.writer.configure(replace(FAST, record_max_retries=2, retry_initial_s=0.2))
    first = rt.writer.flush_due()
    assert (first.retried, first.failed) == (1, 0)
    assert rt.writer.flush_due().calls == 0  # the retry waits a little
    reports = [first]

    def dead_lettered() -> bool:
        reports.append(rt.writer.flush_due())
        return reports[-1].failed > 0

    wait_until(dead_lettered, timeout_s=5, what="the record to run out of retries")
    assert (sum(r.retried for r in reports), sum(r.failed for r in reports)) == (2, 1)
    [letter] = DeadLetterStore(rt.redis, rt.keys).list(kinds=("record",))
    assert letter.reason == "UNABLE_TO_LOCK_ROW"


def test_calls_in_flight_never_exceed_the_limit_across_writers(rt, emulator):
    emulator.faults.update(latency_ms=100)
    active = peak = 0
    lock = threading.Lock()

    def before(request):
        nonlocal active, peak
        if "composite" in request.path:
            with lock:
                active += 1
                peak = max(peak, active)
        return None

    def after(request, response):
        nonlocal active
        if "composite" in request.path:
            with lock:
                active -= 1
        return response

    emulator.api.before_request.insert(0, before)
    emulator.api.after_request.append(after)
    try:
        writers = [Runtime(rt.settings) for _ in range(5)]
        for w in writers:
            w.writer.configure(replace(FAST, max_calls_in_flight=2))
        rt.buffer.batch_size = 1
        for w in writers:
            w.buffer.batch_size = 1
        put(rt, *(contact(f"cl-{i}", "Limited") for i in range(10)))
        threads = [threading.Thread(target=w.writer.flush_due) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        emulator.api.before_request.remove(before)
        emulator.api.after_request.remove(after)
    assert len(last_names(emulator, "cl-")) == 10
    assert peak <= 2


def test_replay_after_the_fix_writes_dead_letters_through_the_normal_path(
    rt, emulator, redis_server
):
    emulator.faults.update(record_failures=[{"field": "LastName", "value": "Fixme"}])
    put(rt, contact("rp-1", "Fixme"))
    rt.writer.flush_due()
    store = DeadLetterStore(rt.redis, rt.keys)
    assert [d.id for d in store.list(error_code="STRING_TOO_LONG")] == ["record:Contact/rp-1"]
    emulator.faults.clear()  # the admin lengthened the field
    broker = RedisBroker(url=redis_server.url)
    try:
        report = store.replay(store.list(kinds=("record",)), broker, rt.buffer)
    finally:
        broker.close()
    assert report.replayed == ["record:Contact/rp-1"]
    assert rt.redis.llen("dramatiq:card_write") == 1  # a flush was scheduled
    assert rt.writer.flush_due().written == 1
    assert last_names(emulator, "rp-") == {"rp-1": "Fixme"}
    assert store.list(kinds=("record",)) == []


def test_a_duplicate_rule_match_is_linked_instead_of_failing(rt, emulator):
    emulator.config.duplicate_rules = [{"sobject": "Contact", "field": "Email", "action": "block"}]
    try:
        # created by hand in the org, before cardsync knew the person
        existing = salesforce_client(emulator).Contact.create(
            {"LastName": "Manual", "Email": "kept@example.jp"}
        )["id"]
        record = replace(
            contact("du-1", "Synced"),
            payload={"LastName": "Synced", "Email": "kept@example.jp"},
        )
        put(rt, record)
        report = rt.writer.flush_due()
    finally:
        emulator.config.duplicate_rules = []
    assert (report.written, report.linked, report.failed) == (1, 1, 0)
    rows = emulator.store.query_records("Contact", Email="kept@example.jp")
    assert [(r["Id"], r["Sansan_Person_Id__c"], r["LastName"]) for r in rows] == [
        (existing, "du-1", "Synced")
    ]
    assert rt.ledger.get("Contact", ["du-1"])["du-1"].salesforce_id == existing


def test_a_large_backlog_is_written_through_bulk_api_jobs(rt, emulator):
    rt.writer.configure(replace(FAST, bulk_threshold=50, bulk_batch_size=500))
    records = [contact(f"bk-{i}", f"Bulk{i}") for i in range(120)]
    records[7] = replace(records[7], payload={"LastName": "Bulk7", "Email": "not-an-email"})
    put(rt, *records)
    # `status` shows the job while it runs: watch it from another thread, as an operator would.
    seen: list[dict] = []
    flushed = threading.Event()

    def watch_status() -> None:
        while not flushed.wait(0.01):
            jobs = read_status(rt.redis, rt.keys, QUEUES, heartbeat_timeout_ms=1).bulk_jobs
            seen.extend(jobs.values())

    watcher = threading.Thread(target=watch_status)
    emulator.api.bulk.processing_delay_s = 0.3  # long enough for the watcher to look
    calls = emulator.api_calls()
    watcher.start()
    try:
        report = rt.writer.flush_due()
    finally:
        flushed.set()
        watcher.join()
        emulator.api.bulk.processing_delay_s = 0.0
    assert seen and {(job["sobject"], job["records"]) for job in seen} == {("Contact", 120)}
    assert (report.bulk_jobs, report.written, report.failed) == (1, 119, 1)
    assert emulator.api_calls() - calls < 12  # create, upload, close, polls, results, delete
    assert len(last_names(emulator, "bk-")) == 119
    [letter] = DeadLetterStore(rt.redis, rt.keys).list(kinds=("record",))
    assert (letter.id, letter.reason) == ("record:Contact/bk-7", "INVALID_EMAIL_ADDRESS")
    assert read_status(rt.redis, rt.keys, QUEUES, heartbeat_timeout_ms=1).bulk_jobs == {}
    assert rt.ledger.get("Contact", ["bk-0"])["bk-0"].salesforce_id.startswith("003")


def test_a_dead_holders_call_slot_frees_itself_after_its_lease(redis_client):
    from workers.salesforce.limiter import CallLimiter
    from workers.state.keys import Keys

    limiter = CallLimiter(redis_client, Keys(), limit=1, lease_s=0.2, wait_s=0.1)
    assert limiter.try_acquire() is not None  # its process is then killed: never released
    assert limiter.try_acquire() is None
    wait_until(lambda: limiter.in_flight() == 0, timeout_s=5, what="the dead holder's lease")
    with limiter.slot():
        assert limiter.in_flight() == 1
    assert limiter.in_flight() == 0


def test_each_trip_without_a_success_doubles_the_pause(redis_client):
    from workers.salesforce.breaker import CircuitBreaker
    from workers.state.keys import Keys

    breaker = CircuitBreaker(redis_client, Keys(), initial_pause_s=10, max_pause_s=25)
    pauses = []
    for _ in range(3):
        now = time.time()
        pauses.append(round(breaker.trip("REQUEST_LIMIT_EXCEEDED").until - now))
        redis_client.hset(Keys().writer_breaker(), "until_ms", 0)  # the pause ran out
    assert pauses == [10, 20, 25]
    open_until = breaker.trip("first writer").until
    assert breaker.trip("second writer, same episode").until == open_until
    redis_client.hset(Keys().writer_breaker(), "until_ms", 0)
    breaker.succeeded()
    assert round(breaker.trip("again").until - time.time()) == 10


def test_map_stage_reads_and_stamps_meet_the_same_breaker_and_retries_as_the_writer(rt, emulator):
    from workers.salesforce.breaker import WritersPaused
    from workers.salesforce.contact_index import stamp_external_ids

    rt.writer.breaker.trip("REQUEST_LIMIT_EXCEEDED")
    calls = emulator.api_calls()
    with pytest.raises(WritersPaused):
        rt.accounts.ensure_fresh()
    with pytest.raises(WritersPaused):
        stamp_external_ids(rt.gateway, "Sansan_Person_Id__c", {"003000000000001": "gp-1"})
    assert emulator.api_calls() == calls  # nothing reached the org
    rt.redis.hset(rt.keys.writer_breaker(), "until_ms", 0)  # the pause ran out
    emulator.faults.update(seed=3, error_rates={"SERVER_UNAVAILABLE": 0.5})
    rt.writer.configure(replace(FAST, retry_attempts=12))
    users = rt.gateway.query_all("SELECT Id, Username FROM User")
    assert users and all(u["Id"].startswith("005") for u in users)
    assert int(rt.redis.hget(rt.keys.stats(), "call_failures.SERVER_UNAVAILABLE") or 0) >= 1


def test_bulk_job_polls_and_timeout_follow_the_settings(redis_server, emulator, monkeypatch):
    env = pipeline_env(
        redis_server.url,
        emulator,
        CARDSYNC_SALESFORCE__BULK_POLL_INITIAL_S="0.02",
        CARDSYNC_SALESFORCE__BULK_POLL_MAX_S="0.05",
        CARDSYNC_SALESFORCE__BULK_JOB_TIMEOUT_S="2",
        CARDSYNC_SALESFORCE__RETRY_ATTEMPTS="1",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    gateway = Runtime(load_settings()).gateway
    emulator.api.bulk.processing_delay_s = 60  # the job stays UploadComplete past the timeout
    polls: list[str] = []
    started = time.monotonic()
    try:
        # A job past its timeout is aborted and classified a transient TIMEOUT.
        with pytest.raises(SalesforceCallFailed, match="TIMEOUT"):
            gateway.bulk_upsert(
                "Contact",
                "Sansan_Person_Id__c",
                [{"Sansan_Person_Id__c": "slow-1", "LastName": "Slow"}],
                on_poll=lambda _job, state: polls.append(state),
            )
    finally:
        emulator.api.bulk.processing_delay_s = 0.0
    assert time.monotonic() - started < 30  # not the default 1800 s, not the job's 60 s
    # The defaults (0.2 s doubling to 5 s) poll 5 times in 2 s; 0.05 s apart, many more.
    assert len(polls) >= 10, polls
    assert "Aborted" in {job.state for job in emulator.api.bulk.jobs.values()}  # not left running
