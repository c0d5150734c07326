"""Specification of config.settings: CARDSYNC_* variables and `.env`; errors name the variable."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import (
    COLLECTIONS_MAX_RECORDS,
    DEFAULT_FIELD_MAPPING,
    AuthFlow,
    LogFormat,
    Settings,
    SettingsError,
    get_settings,
    load_settings,
    section_of,
    unknown_variables,
    variable_names,
)
from config.table import config_table
from demo.local_redis import LocalRedis
from workers.runtime import Runtime
from workers.salesforce.writer import WriterPolicy

SECRET = "hunter2-Sup3rSecret"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CARDSYNC_* variable of the caller's shell and no stray `.env` leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("CARDSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def settings_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return str(caught.value)


# --- reading values ------------------------------------------------------------------------------


def test_defaults_need_no_variables() -> None:
    settings = load_settings()
    assert settings.redis_url is None
    assert settings.log_format is LogFormat.AUTO
    assert settings.log_level == "INFO"
    assert settings.namespace == "cardsync"
    assert settings.salesforce.configured is False
    assert settings.salesforce.auth_flow is AuthFlow.PASSWORD
    assert settings.pipeline.chunk_size == 200
    assert settings.pipeline.batch_size == 200
    assert settings.pipeline.field_mapping_file == DEFAULT_FIELD_MAPPING
    assert DEFAULT_FIELD_MAPPING.is_file()
    assert settings.worker.processes == 2


def test_top_level_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_REDIS_URL", "redis://example:6380/3")
    monkeypatch.setenv("CARDSYNC_LOG_FORMAT", "json")
    monkeypatch.setenv("CARDSYNC_NAMESPACE", "other")
    settings = load_settings()
    assert settings.redis_url == "redis://example:6380/3"
    assert settings.log_format is LogFormat.JSON
    assert settings.namespace == "other"


def test_log_level_is_case_insensitive_and_stored_upper_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARDSYNC_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


def test_nested_sections_are_set_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_PIPELINE__CHUNK_SIZE", "50")
    monkeypatch.setenv("CARDSYNC_PIPELINE__BATCH_SIZE", "25")
    monkeypatch.setenv("CARDSYNC_PIPELINE__AUTO_MAP_NEW_USERS", "true")
    monkeypatch.setenv("CARDSYNC_WORKER__THREADS", "8")
    monkeypatch.setenv("CARDSYNC_WORKER__HEARTBEAT_TIMEOUT_MS", "5000")
    monkeypatch.setenv("CARDSYNC_SANSAN__BASE_URL", "https://sansan.test/v3")
    monkeypatch.setenv("CARDSYNC_SALESFORCE__TIMEOUT_S", "2.5")
    settings = load_settings()
    assert settings.pipeline.chunk_size == 50
    assert settings.pipeline.batch_size == 25
    assert settings.pipeline.auto_map_new_users is True
    assert settings.worker.threads == 8
    assert settings.worker.processes == 2  # untouched fields of a section keep their default
    assert settings.worker.heartbeat_timeout_ms == 5000
    assert settings.sansan.base_url == "https://sansan.test/v3"
    assert settings.salesforce.timeout_s == 2.5


def test_variable_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("cardsync_pipeline__chunk_size", "77")
    assert load_settings().pipeline.chunk_size == 77


def test_complete_client_credentials_flow_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_SALESFORCE__LOGIN_URL", "https://login.example.test")
    monkeypatch.setenv("CARDSYNC_SALESFORCE__AUTH_FLOW", "client_credentials")
    monkeypatch.setenv("CARDSYNC_SALESFORCE__CLIENT_ID", "cid")
    monkeypatch.setenv("CARDSYNC_SALESFORCE__CLIENT_SECRET", SECRET)
    monkeypatch.setenv("CARDSYNC_SALESFORCE__CA_BUNDLE", "/does/not/exist/ca.pem")
    sf = load_settings().salesforce
    assert sf.configured is True
    assert sf.auth_flow is AuthFlow.CLIENT_CREDENTIALS
    assert sf.client_id == "cid"
    assert sf.ca_bundle == Path("/does/not/exist/ca.pem")


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "CARDSYNC_REDIS_URL=redis://from-dotenv:6379/1\n"
        "CARDSYNC_PIPELINE__CHUNK_SIZE=33\n"
        "CARDSYNC_SALESFORCE__LOGIN_URL=https://login.example.test\n"
        "CARDSYNC_SALESFORCE__USERNAME=integration@example.test\n"
        f"CARDSYNC_SALESFORCE__PASSWORD={SECRET}\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.redis_url == "redis://from-dotenv:6379/1"
    assert settings.pipeline.chunk_size == 33
    assert settings.salesforce.username == "integration@example.test"
    assert settings.salesforce.password is not None
    assert settings.salesforce.password.get_secret_value() == SECRET


def test_environment_variable_wins_over_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("CARDSYNC_PIPELINE__CHUNK_SIZE=33\n", encoding="utf-8")
    monkeypatch.setenv("CARDSYNC_PIPELINE__CHUNK_SIZE", "44")
    assert load_settings().pipeline.chunk_size == 44


def test_dotenv_of_another_directory_is_not_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("CARDSYNC_PIPELINE__CHUNK_SIZE=33\n", encoding="utf-8")
    assert load_settings().pipeline.chunk_size == 200


def test_get_settings_reads_once_until_cache_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("CARDSYNC_PIPELINE__CHUNK_SIZE", "9")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().pipeline.chunk_size == 9


# --- invalid values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("CARDSYNC_PIPELINE__CHUNK_SIZE", "abc", "valid integer"),
        ("CARDSYNC_PIPELINE__CHUNK_SIZE", "0", "greater than or equal to 1"),
        ("CARDSYNC_PIPELINE__BATCH_SIZE", "500", "less than or equal to 200"),
        ("CARDSYNC_PIPELINE__LINGER_MS", "-1", "greater than or equal to 0"),
        ("CARDSYNC_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR"),
        ("CARDSYNC_LOG_FORMAT", "xml", "'json'"),
        ("CARDSYNC_SALESFORCE__AUTH_FLOW", "magic", "'client_credentials'"),
        ("CARDSYNC_SALESFORCE__TIMEOUT_S", "0", "greater than 0"),
        ("CARDSYNC_WORKER__PROCESSES", "", "valid integer"),
        ("CARDSYNC_WORKER__HEARTBEAT_TIMEOUT_MS", "10", "greater than or equal to 1000"),
    ],
)
def test_invalid_value_names_the_variable_and_the_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    message = settings_error(monkeypatch, **{variable: value})
    line = next((ln for ln in message.splitlines() if variable in ln), None)
    assert line is not None, message
    assert reason in line


def test_invalid_chunk_size_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, CARDSYNC_PIPELINE__CHUNK_SIZE="abc")
    assert "CARDSYNC_PIPELINE__CHUNK_SIZE" in message
    assert "integer" in message


def test_every_invalid_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(
        monkeypatch,
        CARDSYNC_PIPELINE__BATCH_SIZE="500",
        CARDSYNC_LOG_LEVEL="LOUD",
        CARDSYNC_WORKER__THREADS="zero",
    )
    for variable in (
        "CARDSYNC_PIPELINE__BATCH_SIZE",
        "CARDSYNC_LOG_LEVEL",
        "CARDSYNC_WORKER__THREADS",
    ):
        assert variable in message


def test_invalid_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CARDSYNC_PIPELINE__BATCH_SIZE=201\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="CARDSYNC_PIPELINE__BATCH_SIZE"):
        load_settings()


def test_section_given_as_invalid_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A whole section may be one JSON variable; a malformed one is a SettingsError like any other.
    message = settings_error(monkeypatch, CARDSYNC_SALESFORCE=f'{{"password": "{SECRET}", ')
    assert "CARDSYNC_SALESFORCE:" in message
    assert "JSON" in message
    assert SECRET not in message


def test_section_given_as_json_is_validated_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, CARDSYNC_PIPELINE='{"chunk_size": 10, "batch_size": 999}')
    assert "CARDSYNC_PIPELINE__BATCH_SIZE" in message


# --- Salesforce authentication is complete once a login URL is set ------------------------------


def test_password_flow_without_credentials_names_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = settings_error(
        monkeypatch, CARDSYNC_SALESFORCE__LOGIN_URL="https://login.salesforce.com"
    )
    assert "password" in message
    assert "CARDSYNC_SALESFORCE__USERNAME" in message
    assert "CARDSYNC_SALESFORCE__PASSWORD" in message


def test_password_flow_names_only_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(
        monkeypatch,
        CARDSYNC_SALESFORCE__LOGIN_URL="https://login.salesforce.com",
        CARDSYNC_SALESFORCE__USERNAME="integration@example.test",
    )
    assert "CARDSYNC_SALESFORCE__PASSWORD" in message
    assert "CARDSYNC_SALESFORCE__USERNAME" not in message


@pytest.mark.parametrize(
    ("flow", "given", "missing"),
    [
        ("client_credentials", {"CLIENT_ID": "cid"}, ["CARDSYNC_SALESFORCE__CLIENT_SECRET"]),
        (
            "jwt",
            {"USERNAME": "u@example.test"},
            ["CARDSYNC_SALESFORCE__CLIENT_ID", "CARDSYNC_SALESFORCE__PRIVATE_KEY_FILE"],
        ),
    ],
)
def test_other_flows_name_their_missing_variables(
    monkeypatch: pytest.MonkeyPatch, flow: str, given: dict[str, str], missing: list[str]
) -> None:
    env = {f"CARDSYNC_SALESFORCE__{k}": v for k, v in given.items()}
    message = settings_error(
        monkeypatch,
        CARDSYNC_SALESFORCE__LOGIN_URL="https://login.salesforce.com",
        CARDSYNC_SALESFORCE__AUTH_FLOW=flow,
        **env,
    )
    assert flow in message
    for variable in missing:
        assert variable in message
    for name in given:
        assert f"CARDSYNC_SALESFORCE__{name}" not in message


def test_credentials_are_not_required_without_a_login_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_SALESFORCE__AUTH_FLOW", "jwt")
    assert load_settings().salesforce.configured is False


# --- secrets -------------------------------------------------------------------------------------


@pytest.fixture()
def all_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    secrets = {
        "CARDSYNC_SALESFORCE__PASSWORD": SECRET + "-pw",
        "CARDSYNC_SALESFORCE__SECURITY_TOKEN": SECRET + "-token",
        "CARDSYNC_SALESFORCE__CLIENT_SECRET": SECRET + "-client",
        "CARDSYNC_SANSAN__API_KEY": SECRET + "-apikey",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return secrets


def test_secrets_are_secret_str(all_secrets: dict[str, str]) -> None:
    settings = load_settings()
    values = [
        settings.salesforce.password,
        settings.salesforce.security_token,
        settings.salesforce.client_secret,
        settings.sansan.api_key,
    ]
    assert all(isinstance(value, SecretStr) for value in values)
    assert sorted(v.get_secret_value() for v in values if v is not None) == sorted(
        all_secrets.values()
    )


def test_secrets_do_not_appear_in_repr_or_str(all_secrets: dict[str, str]) -> None:
    settings = load_settings()
    for text in (
        repr(settings),
        str(settings),
        repr(settings.salesforce),
        str(settings.model_dump()),
    ):
        assert SECRET not in text


def test_secrets_do_not_appear_in_settings_error(
    monkeypatch: pytest.MonkeyPatch, all_secrets: dict[str, str]
) -> None:
    incomplete = settings_error(
        monkeypatch,
        CARDSYNC_SALESFORCE__LOGIN_URL="https://login.salesforce.com",  # no username
    )
    assert "CARDSYNC_SALESFORCE__USERNAME" in incomplete
    assert SECRET not in incomplete
    invalid = settings_error(monkeypatch, CARDSYNC_SALESFORCE__TIMEOUT_S="abc")
    assert "CARDSYNC_SALESFORCE__TIMEOUT_S" in invalid
    assert SECRET not in invalid


def test_settings_error_does_not_chain_pydantic_details(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pydantic error carries the input values; it must not ride along in a traceback.
    monkeypatch.setenv("CARDSYNC_SALESFORCE__PASSWORD", SECRET)
    monkeypatch.setenv("CARDSYNC_SALESFORCE__LOGIN_URL", "https://login.salesforce.com")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


# --- unknown variables (typos) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("CARDSYNC_PIPELINE__BULK_TRESHOLD", "CARDSYNC_PIPELINE__BULK_THRESHOLD"),
        ("CARDSYNC_SALESFORCE__LOGIN_UR", "CARDSYNC_SALESFORCE__LOGIN_URL"),
        ("CARDSYNC_WORKERS__THREADS", "CARDSYNC_WORKER__THREADS"),
        ("CARDSYNC_REDIS_URI", "CARDSYNC_REDIS_URL"),
        ("CARDSYNC_PIPELINE_CHUNK_SIZE", "CARDSYNC_PIPELINE__CHUNK_SIZE"),  # one underscore
    ],
)
def test_unknown_variable_names_the_closest_valid_one(
    monkeypatch: pytest.MonkeyPatch, typo: str, meant: str
) -> None:
    message = settings_error(monkeypatch, **{typo: "1"})
    assert f"unknown variable {typo} (did you mean {meant}?)" in message


def test_unknown_variable_in_dotenv_names_the_file_and_the_closest_name(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "OTHER_TOOL_SETTING=1\nCARDSYNC_SALESFORCE__TIMEOUT=5\n", encoding="utf-8"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "unknown variable CARDSYNC_SALESFORCE__TIMEOUT in .env" in message
    assert "(did you mean CARDSYNC_SALESFORCE__TIMEOUT_S?)" in message
    assert "OTHER_TOOL_SETTING" not in message  # names without our prefix are not ours to judge


def test_unknown_variable_with_nothing_close_is_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = settings_error(monkeypatch, CARDSYNC_XYZZY="1")
    assert "unknown variable CARDSYNC_XYZZY" in message
    assert "did you mean" not in message


def test_unknown_variables_and_invalid_values_are_reported_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = settings_error(
        monkeypatch,
        CARDSYNC_PIPELINE__LINGER="5",
        CARDSYNC_PIPELINE__BATCH_SIZE="500",
    )
    assert "unknown variable CARDSYNC_PIPELINE__LINGER" in message
    assert "CARDSYNC_PIPELINE__BATCH_SIZE: " in message


def test_unknown_variable_value_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, CARDSYNC_SALESFORCE__PASWORD=SECRET)
    assert "CARDSYNC_SALESFORCE__PASSWORD" in message
    assert SECRET not in message


def test_every_setting_and_every_whole_section_is_a_known_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = variable_names()
    assert "CARDSYNC_PIPELINE__BULK_THRESHOLD" in names
    assert "CARDSYNC_SALESFORCE" in names  # a section as one JSON variable
    assert unknown_variables(names) == []
    monkeypatch.setenv("CARDSYNC_PIPELINE", '{"bulk_threshold": 7}')
    monkeypatch.setenv("cardsync_worker__threads", "3")  # names are case-insensitive
    settings = load_settings()
    assert (settings.pipeline.bulk_threshold, settings.worker.threads) == (7, 3)


def test_variables_reserved_for_tests_and_benchmarks_are_not_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CARDSYNC_TEST_CHAOS_CARDS", "3000")
    (tmp_path / ".env").write_text("CARDSYNC_TEST_ANYTHING=1\n", encoding="utf-8")
    assert isinstance(load_settings(), Settings)


def test_a_variable_of_tests_outside_the_reserved_prefix_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = settings_error(monkeypatch, CARDSYNC_CHAOS_CARDS="3000")
    assert "unknown variable CARDSYNC_CHAOS_CARDS" in message


# A variable name as code sets or reads it: a string literal, a keyword argument, a YAML key.
SET_VARIABLE = re.compile(
    r"""["'](CARDSYNC_\w*[A-Z0-9])["']|\b(CARDSYNC_\w*[A-Z0-9])=|^\s*(CARDSYNC_\w*[A-Z0-9]):""",
    re.MULTILINE,
)


def test_repository_sets_no_unknown_variable() -> None:
    """Tests, benchmarks, CI, the demo and docker-compose name settings or the reserved prefix."""
    root = Path(__file__).resolve().parents[2]
    files = [root / "docker-compose.yml", root / ".ci" / "run"]
    for folder in ("tests", "bench", "demo", "workers"):
        files += [f for f in (root / folder).rglob("*.py") if f != Path(__file__).resolve()]
    found = {
        name
        for file in files
        for match in SET_VARIABLE.findall(file.read_text(encoding="utf-8"))
        for name in match
        if name
    }
    assert {"CARDSYNC_REDIS_URL", "CARDSYNC_TEST_CHAOS_CARDS"} <= found  # the scan sees them
    assert unknown_variables(found) == []


# --- every setting is read where it matters ------------------------------------------------------


def test_readme_table_lists_every_setting() -> None:
    table = config_table()
    sections = {f"CARDSYNC_{n.upper()}" for n, f in Settings.model_fields.items() if section_of(f)}
    settings = set(variable_names()) - sections
    assert "CARDSYNC_SALESFORCE__MAX_CALLS_IN_FLIGHT" in settings
    for name in settings:
        assert f"| `{name}` |" in table, name
    assert len(table.splitlines()) == 2 + len(settings)  # header, rule, one row each
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert table in readme.read_text(encoding="utf-8")


def test_writer_policy_defaults_are_the_settings_defaults() -> None:
    assert WriterPolicy.from_settings(load_settings()) == WriterPolicy()


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("CARDSYNC_SALESFORCE__MAX_CALLS_IN_FLIGHT", "3", "max_calls_in_flight", 3),
        ("CARDSYNC_SALESFORCE__RETRY_ATTEMPTS", "7", "retry_attempts", 7),
        ("CARDSYNC_SALESFORCE__RETRY_INITIAL_S", "0.5", "retry_initial_s", 0.5),
        ("CARDSYNC_SALESFORCE__RETRY_MAX_S", "8", "retry_max_s", 8.0),
        ("CARDSYNC_SALESFORCE__RECORD_MAX_RETRIES", "2", "record_max_retries", 2),
        ("CARDSYNC_SALESFORCE__BUDGET_USAGE_SHARE", "0.75", "budget_usage_share", 0.75),
        ("CARDSYNC_SALESFORCE__BUDGET_INITIAL_PAUSE_S", "4", "budget_initial_pause_s", 4.0),
        ("CARDSYNC_SALESFORCE__BUDGET_MAX_PAUSE_S", "60", "budget_max_pause_s", 60.0),
        ("CARDSYNC_PIPELINE__BULK_THRESHOLD", "500", "bulk_threshold", 500),
        ("CARDSYNC_PIPELINE__BULK_BATCH_SIZE", "2000", "bulk_batch_size", 2000),
    ],
)
def test_writer_setting_from_the_environment_reaches_the_runtime_writer(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    assert getattr(WriterPolicy(), field) != expected  # the variable changes something
    monkeypatch.setenv(variable, value)
    policy = Runtime(load_settings()).writer.policy
    assert getattr(policy, field) == expected


def test_call_lease_outlasts_the_timeout_and_the_longest_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARDSYNC_SALESFORCE__TIMEOUT_S", "20")
    assert WriterPolicy.from_settings(load_settings()).call_lease_s == 30.0
    monkeypatch.setenv("CARDSYNC_SALESFORCE__RETRY_MAX_S", "30")
    writer = Runtime(load_settings()).writer
    assert writer.policy.call_lease_s == 80.0  # 20 s call + twice the longest backoff
    assert writer.buffer.lease_ms == 80_000  # a leased batch lives as long as its call


@pytest.mark.parametrize(
    ("initial", "longest"),
    [
        ("RETRY_INITIAL_S", "RETRY_MAX_S"),
        ("BUDGET_INITIAL_PAUSE_S", "BUDGET_MAX_PAUSE_S"),
        ("BULK_POLL_INITIAL_S", "BULK_POLL_MAX_S"),
    ],
)
def test_a_first_wait_longer_than_its_maximum_is_refused(
    monkeypatch: pytest.MonkeyPatch, initial: str, longest: str
) -> None:
    message = settings_error(
        monkeypatch,
        **{f"CARDSYNC_SALESFORCE__{initial}": "9", f"CARDSYNC_SALESFORCE__{longest}": "3"},
    )
    assert f"CARDSYNC_SALESFORCE__{initial} must not exceed CARDSYNC_SALESFORCE__{longest}" in (
        message
    )


def runtime_on_redis(
    monkeypatch: pytest.MonkeyPatch, redis_server: LocalRedis, namespace: str, **env: str
) -> Runtime:
    """A runtime from these variables, on the test Redis, its keys apart from other tests'."""
    env |= {"CARDSYNC_REDIS_URL": redis_server.url, "CARDSYNC_NAMESPACE": namespace}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Runtime(load_settings())


def test_calls_in_flight_limit_the_runtime_limiter(
    monkeypatch: pytest.MonkeyPatch, redis_server: LocalRedis
) -> None:
    rt = runtime_on_redis(
        monkeypatch, redis_server, "settings-limiter", CARDSYNC_SALESFORCE__MAX_CALLS_IN_FLIGHT="2"
    )
    rt.redis.delete(rt.keys.calls_in_flight())
    limiter = rt.writer.limiter
    tokens = [limiter.try_acquire(), limiter.try_acquire()]
    try:
        assert None not in tokens
        assert limiter.try_acquire() is None  # a third call waits for a slot
    finally:
        for token in tokens:
            if token is not None:
                limiter.release(token)


def test_budget_pauses_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, redis_server: LocalRedis
) -> None:
    rt = runtime_on_redis(
        monkeypatch,
        redis_server,
        "settings-breaker",
        CARDSYNC_SALESFORCE__BUDGET_INITIAL_PAUSE_S="40",
        CARDSYNC_SALESFORCE__BUDGET_MAX_PAUSE_S="50",
    )
    breaker = rt.writer.breaker
    breaker.reset()
    try:
        pauses = []
        for _ in range(2):
            now = time.time()
            pauses.append(round(breaker.trip("REQUEST_LIMIT_EXCEEDED").until - now))
            rt.redis.hset(rt.keys.writer_breaker(), "until_ms", 0)  # the pause ran out
        assert pauses == [40, 50]  # doubled, then capped
    finally:
        breaker.reset()


def test_batch_size_reaches_the_writer_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDSYNC_PIPELINE__BATCH_SIZE", "120")
    assert Runtime(load_settings()).buffer.batch_size == 120


def test_batch_size_is_bounded_by_the_salesforce_collections_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().pipeline.batch_size == COLLECTIONS_MAX_RECORDS
    message = settings_error(
        monkeypatch, CARDSYNC_PIPELINE__BATCH_SIZE=str(COLLECTIONS_MAX_RECORDS + 1)
    )
    assert f"less than or equal to {COLLECTIONS_MAX_RECORDS}" in message
