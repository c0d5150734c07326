"""Specification of the `cardsync` command: help, the error boundary, import, status, rejects."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import structlog
from typer.testing import CliRunner, Result

from config.settings import get_settings
from demo.local_redis import LocalRedis, free_port
from demo.synthetic import generate_cards, generate_labeled_cards, write_csv
from workers.commands.main import app
from workers.queues import QUEUES
from workers.runtime import reset_runtime

ROOT = Path(__file__).resolve().parents[1]
IMPORT_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
# Wide enough that rich never shortens an option name in help output.
WIDE = {"COLUMNS": "250"}

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CARDSYNC_* variable or `.env` from outside; every cache and global put back after."""
    for name in list(os.environ):
        if name.upper().startswith("CARDSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    get_settings.cache_clear()
    reset_runtime()
    yield
    get_settings.cache_clear()
    reset_runtime()
    # The commands configure logging on the runner's stderr, which is closed once they return.
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture()
def cardsync_redis(
    monkeypatch: pytest.MonkeyPatch, redis_server: LocalRedis, redis_client: redis.Redis
) -> redis.Redis:
    """The test Redis, empty, and CARDSYNC_REDIS_URL pointing at it."""
    monkeypatch.setenv("CARDSYNC_REDIS_URL", redis_server.url)
    return redis_client


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


def cards_csv(path: Path, n: int) -> Path:
    assert write_csv(path, generate_cards(n, seed=3)) == n
    return path


def import_in_subprocess(
    csv_path: Path, redis_url: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`cardsync import` in a fresh interpreter: workers.broker reads the settings on import."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("CARDSYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "workers.commands.main", "import", str(csv_path)],
        env={
            **base,
            "PYTHONPATH": str(ROOT),
            "CARDSYNC_REDIS_URL": redis_url,
            "CARDSYNC_LOG_FORMAT": "json",
            **env,
        },
        cwd=csv_path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def mentions_option(help_text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


# --- help ----------------------------------------------------------------------------------------


def test_app_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    for command in ("demo", "import", "status", "rejects", "worker", "emulator"):
        assert mentions_option(result.stdout, command), command


def test_no_arguments_shows_the_help() -> None:
    result = invoke()
    assert "Usage" in result.output
    assert "import" in result.output


HELP_OPTIONS = {
    "demo": [
        "--input",
        "--cards",
        "--salesforce-seed",
        "--workers",
        "--threads",
        "--dump",
        "--seed",
        "--json",
    ],
    "import": ["--chunk-size"],
    "status": ["--json", "--watch", "--interval", "--import"],
    "rejects": ["--csv"],
    "worker": ["--processes", "--threads", "--queue", "-Q"],
    "emulator salesforce": ["--port", "--seed", "--state", "--data-dir"],
}


@pytest.mark.parametrize(("command", "options"), HELP_OPTIONS.items(), ids=list(HELP_OPTIONS))
def test_command_help_exits_0_and_mentions_its_options(command: str, options: list[str]) -> None:
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: root {command} " in result.stdout
    for option in options:
        assert mentions_option(result.stdout, option), f"{option} missing from {command} --help"


def test_emulator_help_lists_salesforce() -> None:
    result = invoke("emulator", "--help")
    assert result.exit_code == 0, result.output
    assert "salesforce" in result.stdout


def test_help_needs_no_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_PIPELINE__CHUNK_SIZE", "abc")
    assert invoke("status", "--help").exit_code == 0


# --- errors before anything runs -----------------------------------------------------------------


def test_import_of_a_missing_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-cards.csv"
    result = invoke("import", str(missing))
    assert result.exit_code == 2
    assert "no-such-cards.csv" in result.stderr
    assert "does not exist" in result.stderr
    assert result.stdout == ""


def test_import_of_a_directory_is_refused(tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path))
    assert result.exit_code == 2
    assert "directory" in result.stderr


@pytest.mark.parametrize(
    "command", [["status"], ["rejects", "some-id"], ["worker"], ["import", "cards.csv"]]
)
def test_invalid_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "cards.csv").write_text("会社名,氏名[姓],名刺所有者ユーザID\n", encoding="utf-8")
    monkeypatch.setenv("CARDSYNC_PIPELINE__CHUNK_SIZE", "abc")
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    assert "CARDSYNC_PIPELINE__CHUNK_SIZE" in result.stderr
    assert "integer" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_setting_in_dotenv_exits_2_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CARDSYNC_LOG_LEVEL=LOUD\n", encoding="utf-8")
    result = invoke("status")
    assert result.exit_code == 2
    assert "CARDSYNC_LOG_LEVEL" in result.stderr


def test_incomplete_salesforce_settings_exit_2_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARDSYNC_SALESFORCE__LOGIN_URL", "https://login.salesforce.com")
    monkeypatch.setenv("CARDSYNC_SALESFORCE__PASSWORD", "pw-not-to-print")
    result = invoke("status")
    assert result.exit_code == 2
    assert "CARDSYNC_SALESFORCE__USERNAME" in result.stderr
    assert "pw-not-to-print" not in result.output


def test_worker_with_an_unknown_queue_exits_2_naming_the_queues() -> None:
    result = invoke("worker", "--queue", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
    for queue in QUEUES:
        assert queue in result.stderr


def test_worker_names_only_the_unknown_queues() -> None:
    result = invoke("worker", "-Q", "card_ingest", "-Q", "nope", "-Q", "also_nope")
    assert result.exit_code == 2
    assert "unknown queue(s) also_nope, nope;" in result.stderr


@pytest.mark.parametrize("option", [["--processes", "0"], ["--threads", "0"]])
def test_worker_refuses_fewer_than_one_process_or_thread(option: list[str]) -> None:
    result = invoke("worker", *option)
    assert result.exit_code == 2
    assert option[0] in result.stderr


def test_status_interval_has_a_lower_bound() -> None:
    result = invoke("status", "--interval", "0.01")
    assert result.exit_code == 2
    assert "--interval" in result.stderr


# --- the error boundary: every command that reads a file ----------------------------------------

CARD_HEADER_WITHOUT_LAST_NAME = "名刺ID,会社名,名刺所有者ユーザID\r\nC1,株式会社サンプル,U1\r\n"
# Not UTF-8 (0xFF), nor CP932 (0x81 starts a two-byte character that "," cannot end).
UNDECODABLE = b"\xff\xfe\x80\x81,abc\r\n"
BAD_FILES: dict[str, bytes] = {
    "empty": b"",
    "missing-header": CARD_HEADER_WITHOUT_LAST_NAME.encode("utf-8"),
    "undecodable": UNDECODABLE,
}
# The command line of each command that takes a file; {file} is the file.
FILE_COMMANDS: dict[str, list[str]] = {
    "import": ["import", "{file}"],
    "preview": ["preview", "{file}", "--out", "out"],
    "demo --input": ["demo", "--input", "{file}"],
    "mapping import": ["mapping", "import", "{file}"],
}
# What each message names, per bad file (mapping import reads its own two-column CSV).
EXPECTED: dict[tuple[str, str], str] = {
    ("card", "empty"): "empty file, expected a header row",
    ("card", "missing-header"): "missing required header(s): 氏名[姓]",
    ("card", "undecodable"): "cannot decode byte 0x81 at byte offset 3 as CP932",
    ("mapping", "empty"): "missing column(s) salesforce_username, sansan_user",
    ("mapping", "missing-header"): "missing column(s) salesforce_username, sansan_user",
    ("mapping", "undecodable"): "cannot read as UTF-8 CSV",
}


@pytest.mark.parametrize("bad", BAD_FILES)
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_bad_file_prints_one_error_line_and_exits_2(
    cardsync_redis: redis.Redis, tmp_path: Path, command: str, bad: str
) -> None:
    path = tmp_path / f"{bad}.csv"
    path.write_bytes(BAD_FILES[bad])
    args = [arg.replace("{file}", str(path)) for arg in FILE_COMMANDS[command]]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert f"{bad}.csv" in error_lines[0]
    kind = "mapping" if command == "mapping import" else "card"
    assert EXPECTED[kind, bad] in error_lines[0]
    assert result.stdout == ""
    assert cardsync_redis.llen("dramatiq:card_ingest") == 0


def test_preview_of_an_empty_file_in_a_fresh_process_prints_one_error_line_and_exits_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("CARDSYNC_")}
    done = subprocess.run(
        [sys.executable, "-m", "workers.commands.main", "preview", "empty.csv"],
        env={**base, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: empty.csv line 1: empty file, expected a header row"
    ]
    assert done.stdout == ""


def test_the_error_line_is_red_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    result = runner.invoke(app, ["preview", str(tmp_path / "empty.csv")], env=WIDE, color=True)
    assert result.exit_code == 2
    assert result.stderr.startswith("\x1b[31merror: ")


def test_unreachable_redis_exits_3_with_one_error_line_and_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on a port just handed out and closed again.
    monkeypatch.setenv("CARDSYNC_REDIS_URL", f"redis://:pw-not-to-print@127.0.0.1:{free_port()}/0")
    result = invoke("status")
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: cannot reach Redis")
    assert "CARDSYNC_REDIS_URL" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "pw-not-to-print" not in result.output


def test_naming_what_does_not_exist_exits_1(cardsync_redis: redis.Redis) -> None:
    for args, message in [
        (["reconcile", "imp-none"], "error: no import imp-none"),
        (["dead-letters", "show", "record:nope"], "error: no dead letter record:nope"),
        (["mapping", "reset", "U404"], "error: U404 has no override"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.splitlines() == [message]


# --- against a real Redis ------------------------------------------------------------------------


def test_import_of_a_csv_without_required_headers_exits_2_naming_them(
    cardsync_redis: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "partial.csv"
    path.write_text(
        "会社名,メールアドレス\r\n株式会社サンプル,a@example.test\r\n", encoding="utf-8"
    )
    result = invoke("import", str(path))
    assert result.exit_code == 2, result.output
    assert "partial.csv" in result.stderr
    assert "氏名[姓]" in result.stderr  # last name
    assert "名刺所有者ユーザID" in result.stderr  # an owner column
    assert "会社名" not in result.stderr.split("missing", 1)[1]  # present, so not named
    assert result.stdout == ""
    assert cardsync_redis.llen("dramatiq:card_ingest") == 0


def test_import_prints_the_import_id_and_enqueues_the_chunks(
    cardsync_redis: redis.Redis, redis_server: LocalRedis, tmp_path: Path
) -> None:
    path = cards_csv(tmp_path / "cards.csv", 25)
    done = import_in_subprocess(path, redis_server.url, CARDSYNC_PIPELINE__CHUNK_SIZE="10")
    assert done.returncode == 0, done.stderr
    import_id = done.stdout.strip()
    assert IMPORT_ID.match(import_id), done.stdout
    assert "25 rows in 3 chunks" in done.stderr
    assert cardsync_redis.llen("dramatiq:card_ingest") == 3
    assert cardsync_redis.zscore("cardsync:imports", import_id) is not None


def test_import_chunk_size_option_overrides_the_setting(
    cardsync_redis: redis.Redis, redis_server: LocalRedis, tmp_path: Path
) -> None:
    path = cards_csv(tmp_path / "cards.csv", 25)
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("CARDSYNC_")}
    done = subprocess.run(
        [sys.executable, "-m", "workers.commands.main", "import", "--chunk-size", "5", str(path)],
        env={**base, "PYTHONPATH": str(ROOT), "CARDSYNC_REDIS_URL": redis_server.url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert cardsync_redis.llen("dramatiq:card_ingest") == 5


def test_status_json_reports_the_four_queues(
    cardsync_redis: redis.Redis, redis_server: LocalRedis, tmp_path: Path
) -> None:
    path = cards_csv(tmp_path / "cards.csv", 12)
    done = import_in_subprocess(path, redis_server.url, CARDSYNC_PIPELINE__CHUNK_SIZE="5")
    assert done.returncode == 0, done.stderr
    import_id = done.stdout.strip()

    result = invoke("status", "--json")
    assert result.exit_code == 0, result.output
    reading = json.loads(result.stdout)
    queues = {q["queue"]: q for q in reading["queues"]}
    assert [q["queue"] for q in reading["queues"]] == [
        "card_ingest",
        "card_merge",
        "card_map",
        "card_write",
    ]
    assert queues["card_ingest"]["ready"] == 3
    assert all(queues[name]["ready"] == 0 for name in ("card_merge", "card_map", "card_write"))
    assert reading["drained"] is False
    assert reading["workers_alive"] == 0  # the importer only sends; it is not a worker
    (counts,) = [i for i in reading["imports"] if i["import_id"] == import_id]
    assert counts["read"] == 12
    assert counts["finished_reading"] is True


def test_status_of_an_empty_redis_is_drained(cardsync_redis: redis.Redis) -> None:
    result = invoke("status", "--json")
    assert result.exit_code == 0, result.output
    reading = json.loads(result.stdout)
    assert [q["queue"] for q in reading["queues"]] == list(QUEUES)
    assert reading["drained"] is True
    assert reading["imports"] == []


def test_status_renders_a_table_naming_every_queue(cardsync_redis: redis.Redis) -> None:
    result = invoke("status")
    assert result.exit_code == 0, result.output
    for queue in QUEUES:
        assert queue in result.stdout


def test_rejects_lists_nothing_for_a_clean_file(
    cardsync_redis: redis.Redis, redis_server: LocalRedis, tmp_path: Path
) -> None:
    path = cards_csv(tmp_path / "clean.csv", 10)
    done = import_in_subprocess(path, redis_server.url)
    assert done.returncode == 0, done.stderr
    result = invoke("rejects", done.stdout.strip())
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "0 rejected" in result.stderr


def test_rejects_lists_rows_rejected_while_reading(
    cardsync_redis: redis.Redis, redis_server: LocalRedis, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "会社名,氏名[姓],名刺所有者ユーザID\n"
        "株式会社サンプル,山田,u1\n"
        "株式会社サンプル,佐藤,u1,extra cell\n",
        encoding="utf-8",
    )
    done = import_in_subprocess(path, redis_server.url)
    assert done.returncode == 0, done.stderr
    import_id = done.stdout.strip()

    listed = invoke("rejects", import_id)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["ragged.csv:3: row: row has 4 cells but the header has 3"]
    assert "1 rejected" in listed.stderr

    as_csv = invoke("rejects", "--csv", import_id)
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout.splitlines() == [
        "card_id,source,line,field,reason",
        ",ragged.csv,3,row,row has 4 cells but the header has 3",
    ]


def test_preview_prints_its_counts_as_json_on_stdout(tmp_path: Path) -> None:
    source = tmp_path / "cards.csv"
    write_csv(source, [r for r, _ in generate_labeled_cards(50, seed=2)], encoding="utf-8")
    out = tmp_path / "plan"
    result = invoke("preview", str(source), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # log lines go to stderr, the counts alone to stdout
    assert summary["cards"] == 50 and summary["persons"] == summary["create"] > 0
    assert {p.name for p in out.iterdir()} == {"persons.csv", "plan.csv", "rejects.csv"}


@pytest.mark.parametrize("seed", ["{not json", '{"Nope__c": []}'])
def test_preview_with_a_bad_salesforce_seed_exits_2_naming_the_option(
    tmp_path: Path, seed: str
) -> None:
    (tmp_path / "seed.json").write_text(seed, encoding="utf-8")
    source = cards_csv(tmp_path / "cards.csv", 3)
    result = invoke("preview", str(source), "--salesforce-seed", str(tmp_path / "seed.json"))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: --salesforce-seed: "), result.stderr
    assert "Traceback" not in result.output
