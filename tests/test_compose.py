"""Specification of docker-compose.yml: it runs commands, options and settings that exist."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from config.settings import Settings, get_settings, load_settings
from workers.commands.main import app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WIDE = {"COLUMNS": "250"}  # rich must not shorten option names in help output


def as_argv(value: str | list[Any] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(part) for part in value]


def cardsync_argv(service: dict[str, Any]) -> list[str] | None:
    """The arguments after `cardsync` a service runs, or None if it does not run cardsync."""
    entrypoint, command = as_argv(service.get("entrypoint")), as_argv(service.get("command"))
    argv = [*entrypoint, *command] if entrypoint else command
    if argv and argv[0] == "cardsync":
        return argv[1:]
    return None


def documented_runs() -> list[tuple[str, list[str]]]:
    """`docker compose run --rm SERVICE ARGS` in the comments, as (id, cardsync arguments)."""
    runs = []
    for match in re.finditer(r"docker compose run (?:--rm )?(\S+) (.+)", COMPOSE_FILE.read_text()):
        service, args = match.group(1), shlex.split(match.group(2))
        base = cardsync_argv(SERVICES[service])
        if base is not None:
            runs.append((f"{service} {match.group(2)}", [*base, *args]))
    return runs


INVOCATIONS: list[tuple[str, list[str]]] = [
    (name, argv)
    for name, service in SERVICES.items()
    if (argv := cardsync_argv(service)) is not None and argv
] + documented_runs()


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """(command path, remaining arguments): follow argv down the typer command tree."""
    command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(argv)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    if hasattr(command, "commands"):
        raise AssertionError(f"`cardsync {' '.join(argv)}` names no command of the app")
    return path, rest


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


CARDSYNC_ENV = {
    name: {k: v for k, v in environment(service).items() if k.upper().startswith("CARDSYNC_")}
    for name, service in SERVICES.items()
}
SERVICES_WITH_SETTINGS = [name for name, env in CARDSYNC_ENV.items() if env]


def setting_value(settings: Settings, variable: str) -> Any:
    value: Any = settings
    for part in variable.removeprefix("CARDSYNC_").lower().split("__"):
        value = getattr(value, part)
    return value


def as_text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def service_using_image(prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(n, s) for n, s in SERVICES.items() if str(s.get("image", "")).startswith(prefix)]
    assert len(found) == 1, f"expected one service running {prefix}"
    return found[0]


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume or host path, for the short and the long syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            mounts[target] = source
    return mounts


@pytest.fixture()
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CARDSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()


# --- commands and options ------------------------------------------------------------------------


def test_compose_runs_cardsync_somewhere() -> None:
    assert any(name in SERVICES for name, _ in INVOCATIONS)
    assert cardsync_argv(SERVICES["worker"]) == ["worker"]


@pytest.mark.parametrize(("where", "argv"), INVOCATIONS, ids=[where for where, _ in INVOCATIONS])
def test_compose_names_commands_that_exist(where: str, argv: list[str]) -> None:
    path, _ = split_command(argv)
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("where", "argv"), INVOCATIONS, ids=[where for where, _ in INVOCATIONS])
def test_compose_passes_only_options_the_command_accepts(where: str, argv: list[str]) -> None:
    path, rest = split_command(argv)
    options = [arg.split("=", 1)[0] for arg in rest if arg.startswith("-") and arg != "-"]
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    unknown = [
        option
        for option in options
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout)
    ]
    assert not unknown, f"`cardsync {' '.join(path)}` has no option {', '.join(unknown)} ({where})"


# --- settings ------------------------------------------------------------------------------------


def test_compose_sets_cardsync_settings() -> None:
    assert CARDSYNC_ENV["worker"], "the worker service sets no CARDSYNC_* variable"


@pytest.mark.parametrize(
    "variable", sorted({v for env in CARDSYNC_ENV.values() for v in env}), ids=str
)
def test_every_cardsync_variable_names_a_setting(variable: str) -> None:
    parts = variable.removeprefix("CARDSYNC_").lower().split("__")
    fields = Settings.model_fields
    assert parts[0] in fields, f"{variable}: Settings has no field {parts[0]!r}"
    annotation = fields[parts[0]].annotation
    is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if len(parts) == 1:
        assert not is_section, f"{variable}: {parts[0]} is a section; set SECTION__FIELD"
    else:
        assert len(parts) == 2, f"{variable}: sections nest one level deep"
        assert is_section, f"{variable}: {parts[0]} is not a section"
        assert parts[1] in annotation.model_fields, (
            f"{variable}: {parts[0]} has no field {parts[1]!r}"
        )


@pytest.mark.parametrize("service", SERVICES_WITH_SETTINGS)
@pytest.mark.usefixtures("clean_settings")
def test_compose_settings_validate(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    env = CARDSYNC_ENV[service]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()  # paths (the CA bundle) need not exist here
    for name, value in env.items():
        assert as_text(setting_value(settings, name)) == value, name


def test_services_that_run_cardsync_share_the_settings() -> None:
    runs_cardsync = [n for n, s in SERVICES.items() if cardsync_argv(s) is not None]
    reference = CARDSYNC_ENV["worker"]
    for name in runs_cardsync:
        if name != "emulator":  # the emulator does not read CARDSYNC_* settings
            assert CARDSYNC_ENV[name] == reference, name


def test_redis_url_points_at_the_redis_service() -> None:
    redis_name, _ = service_using_image("redis")
    for service, env in CARDSYNC_ENV.items():
        if "CARDSYNC_REDIS_URL" in env:
            assert urlsplit(env["CARDSYNC_REDIS_URL"]).hostname == redis_name, service


def test_salesforce_login_url_points_at_the_emulator_port() -> None:
    emulator = cardsync_argv(SERVICES["emulator"]) or []
    port = emulator[emulator.index("--port") + 1]
    for service, env in CARDSYNC_ENV.items():
        if "CARDSYNC_SALESFORCE__LOGIN_URL" in env:
            url = urlsplit(env["CARDSYNC_SALESFORCE__LOGIN_URL"])
            assert (url.scheme, url.hostname, str(url.port)) == ("https", "emulator", port), service


def test_ca_bundle_is_the_ca_the_emulator_writes() -> None:
    emulator_argv = cardsync_argv(SERVICES["emulator"]) or []
    data_dir = PurePosixPath(emulator_argv[emulator_argv.index("--data-dir") + 1])
    emulator_volume = volume_mounts(SERVICES["emulator"])[str(data_dir)]
    for name, env in CARDSYNC_ENV.items():
        if "CARDSYNC_SALESFORCE__CA_BUNDLE" not in env:
            continue
        ca = PurePosixPath(env["CARDSYNC_SALESFORCE__CA_BUNDLE"])
        assert ca.name == "ca.pem"  # emulators.salesforce.tls.ensure_certificates
        mounts = volume_mounts(SERVICES[name])
        assert mounts.get(str(ca.parent)) == emulator_volume, (
            f"{name} does not mount the CA's volume"
        )


# --- Redis and scaling ---------------------------------------------------------------------------


def test_redis_runs_append_only_on_a_volume() -> None:
    _, redis_service = service_using_image("redis")
    argv = as_argv(redis_service.get("command"))
    assert "--appendonly" in argv
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert "/data" in volume_mounts(redis_service)
    assert volume_mounts(redis_service)["/data"] in (COMPOSE.get("volumes") or {})


def test_redis_has_a_healthcheck_the_workers_wait_for() -> None:
    redis_name, redis_service = service_using_image("redis")
    assert redis_service.get("healthcheck", {}).get("test")
    assert SERVICES["worker"]["depends_on"][redis_name]["condition"] == "service_healthy"


def test_worker_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    for port in worker.get("ports", []):
        if isinstance(port, dict):
            assert "published" not in port, port
        else:
            assert ":" not in str(port), f"fixed host port {port} stops --scale worker=N"
