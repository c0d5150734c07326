"""`cardsync demo`: the whole job on embedded defaults — local Redis, the emulator, real workers."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from config.settings import Settings, load_settings
from demo.local_redis import start_local_redis
from demo.local_salesforce import emulator_env, start_local_salesforce
from pipeline.errors import BadInputError, JobNotFinishedError
from workers.ops.status import Status, read_status
from workers.queues import QUEUES

log = structlog.get_logger(__name__)

# faker is in the `demo` dependency group, which the production image leaves out.
GENERATOR_MISSING = (
    "generating demo cards needs faker, which is not installed: run `uv sync --group demo` "
    "(or `pip install faker`), or pass --input FILE"
)


class GeneratorMissing(BadInputError, RuntimeError):
    """`cardsync demo` without --input, where faker (the card generator's library) is absent."""


@dataclass
class DemoSummary:
    import_id: str
    cards_read: int
    rejected: int
    cards_merged: int
    persons: int
    accounts_created: int
    contacts_created: int
    contacts_updated: int
    record_errors: int
    cards_written: int
    api_calls: int
    auth_calls: int
    elapsed_s: float
    workers: int
    owners: dict[str, int]
    drained: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        width = max(len(k) for k in self.to_dict())
        lines = []
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "-"
            lines.append(f"{key:<{width}}  {value}")
        return "\n".join(lines)


@dataclass
class DemoOptions:
    input_file: Path | None = None
    cards: int = 1000
    seed: int = 7
    salesforce_seed: Path | None = None
    workers: int = 2
    threads: int = 4
    dump_dir: Path | None = None
    timeout_s: float = 1800.0
    work_dir: Path | None = None


@contextlib.contextmanager
def _salesforce(
    settings: Settings, options: DemoOptions, work_dir: Path
) -> Iterator[tuple[dict[str, str], Any]]:
    """Env for the workers pointing at the configured org, or at a local emulator we start."""
    if settings.salesforce.configured:
        if options.salesforce_seed is not None:
            raise BadInputError(
                "--salesforce-seed seeds the local emulator; Salesforce is configured"
            )
        yield {}, None
        return
    try:
        emulator = start_local_salesforce(
            seed=options.salesforce_seed, data_dir=work_dir / "emulator"
        )
    except ValueError as error:  # a seed that is not JSON, or that names unknown objects
        raise BadInputError(f"--salesforce-seed: {error}") from None
    env = emulator_env(emulator)
    try:
        yield env, emulator
    finally:
        emulator.stop()


@contextlib.contextmanager
def _redis(settings: Settings, work_dir: Path) -> Iterator[dict[str, str]]:
    if settings.redis_url:
        yield {}
        return
    server = start_local_redis(directory=work_dir / "redis")
    try:
        yield {"CARDSYNC_REDIS_URL": server.url}
    finally:
        server.stop()


def start_workers(
    env: dict[str, str], processes: int, threads: int, log_file: IO[bytes]
) -> subprocess.Popen[bytes]:
    """`dramatiq workers.stages` in its own process group, so stopping it stops every child."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "workers.stages",
            "-p",
            str(processes),
            "-t",
            str(threads),
        ],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_workers(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_demo(options: DemoOptions, progress: Callable[[str], None] | None = None) -> DemoSummary:
    base_settings = load_settings()
    if options.input_file is not None:
        from workers.sources.csv_file import CardFile

        CardFile(options.input_file)  # a bad encoding or header fails before anything starts
    elif importlib.util.find_spec("faker") is None:
        raise GeneratorMissing(GENERATOR_MISSING)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="cardsync-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    with (
        _redis(base_settings, work_dir) as redis_env,
        _salesforce(base_settings, options, work_dir) as (
            sf_env,
            emulator,
        ),
    ):
        env = {**os.environ, **redis_env, **sf_env}
        os.environ.update({**redis_env, **sf_env})
        from config.settings import get_settings

        get_settings.cache_clear()
        settings = load_settings()
        from workers.runtime import Runtime

        rt = Runtime(settings)
        input_file = options.input_file or _generate(options, work_dir)
        worker_log = work_dir / "workers.log"
        say(f"workers: {options.workers} processes x {options.threads} threads, log {worker_log}")
        with worker_log.open("ab") as log_file:
            workers = start_workers(env, options.workers, options.threads, log_file)
            try:
                started = time.monotonic()
                from workers.sources.importer import import_file

                begun = import_file(rt, input_file)
                say(f"import {begun.import_id}: {begun.rows} rows from {input_file.name}")
                drained, _ = wait_for_drain(rt, begun.import_id, workers, options.timeout_s, say)
                elapsed = time.monotonic() - started
            finally:
                stop_workers(workers)
        summary = _summarize(rt, begun.import_id, elapsed, options.workers, drained)
        if options.dump_dir is not None:
            if emulator is None:
                raise BadInputError("--dump reads the local emulator; Salesforce is configured")
            emulator.dump(options.dump_dir)
        return summary


def _generate(options: DemoOptions, work_dir: Path) -> Path:
    from demo.synthetic import generate_cards, write_csv

    path = work_dir / f"cards-{options.cards}.csv"
    write_csv(path, generate_cards(options.cards, seed=options.seed), encoding="cp932")
    return path


def wait_for_drain(
    rt: Any,
    import_id: str,
    workers: subprocess.Popen[bytes],
    timeout_s: float,
    say: Callable[[str], None] = lambda _message: None,
) -> tuple[bool, Status]:
    """Poll `status` until every queue and the writer are empty; (drained, last reading)."""
    deadline = time.monotonic() + timeout_s
    quiet_checks = 0
    last_report = 0.0
    while time.monotonic() < deadline:
        if workers.poll() is not None:
            raise JobNotFinishedError(
                f"worker processes exited with code {workers.returncode}; see the worker log"
            )
        status = read_status(
            rt.redis,
            rt.keys,
            QUEUES,
            heartbeat_timeout_ms=rt.settings.worker.heartbeat_timeout_ms,
            import_ids=[import_id],
        )
        # Two quiet readings in a row: a message is always acked after its successor is sent.
        quiet_checks = quiet_checks + 1 if status.drained else 0
        if quiet_checks >= 2:
            return True, status
        if time.monotonic() - last_report > 2:
            last_report = time.monotonic()
            counts = status.imports[0]
            outstanding = sum(q.outstanding for q in status.queues)
            say(
                f"  merged {counts.merged}  written {counts.written}  failed {counts.failed}  "
                f"queued {outstanding}  writer pending {sum(status.writer_pending.values())}"
            )
        time.sleep(0.25)
    return False, status


def _summarize(rt: Any, import_id: str, elapsed: float, workers: int, drained: bool) -> DemoSummary:
    counts = rt.tracker.counts(import_id)
    stats = rt.redis.hgetall(rt.keys.stats())
    merged_cards = rt.tracker.merged_cards(import_id)
    owners = Counter(v["reason"] for v in rt.owners.seen().values())
    return DemoSummary(
        import_id=import_id,
        cards_read=counts.read,
        rejected=counts.rejected,
        cards_merged=counts.merged,
        persons=rt.persons.person_count(merged_cards),
        accounts_created=int(stats.get("Account.created", 0)),
        contacts_created=int(stats.get("Contact.created", 0)),
        contacts_updated=int(stats.get("Contact.updated", 0)),
        record_errors=int(rt.redis.hlen(rt.keys.record_errors())),
        cards_written=counts.written,
        api_calls=int(stats.get("api_calls", 0)),
        auth_calls=int(stats.get("auth_calls", 0)),
        elapsed_s=round(elapsed, 2),
        workers=workers,
        owners=dict(owners),
        drained=drained,
    )


def summary_json(summary: DemoSummary) -> str:
    return json.dumps(summary.to_dict(), ensure_ascii=False)
