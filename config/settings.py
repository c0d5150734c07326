"""All configuration of cardsync in one typed place, read from CARDSYNC_* variables and `.env`."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from pipeline.errors import BadInputError

DEFAULT_FIELD_MAPPING = Path(__file__).with_name("field_mapping.toml")

# A Salesforce limit, not a setting: one sObject Collections call (/composite/sobjects) takes at
# most 200 records. It bounds `pipeline.batch_size` and chunks every Collections call we make.
COLLECTIONS_MAX_RECORDS = 200

ENV_PREFIX = "CARDSYNC_"
# Variables under this prefix belong to tests and benchmarks (CARDSYNC_TEST_CHAOS_CARDS), not to
# the settings: the unknown-variable check leaves them alone.
RESERVED_PREFIX = "CARDSYNC_TEST_"


class AuthFlow(StrEnum):
    PASSWORD = "password"
    CLIENT_CREDENTIALS = "client_credentials"
    JWT = "jwt"


class LogFormat(StrEnum):
    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class SalesforceSettings(BaseModel):
    """How to reach the org. Nothing set here means: start the local emulator (demo only)."""

    login_url: str | None = Field(
        default=None,
        description="Login host, e.g. https://login.salesforce.com, https://test.salesforce.com, "
        "a My Domain URL or the emulator's URL. Unset: the demo starts the local emulator.",
    )
    auth_flow: AuthFlow = Field(
        default=AuthFlow.PASSWORD, description="password, client_credentials or jwt."
    )
    username: str | None = Field(
        default=None, description="Integration user's username (password, jwt)."
    )
    password: SecretStr | None = Field(default=None, description="Password (password flow).")
    security_token: SecretStr | None = Field(
        default=None, description="Security token appended to the password (password flow)."
    )
    client_id: str | None = Field(default=None, description="Connected app consumer key.")
    client_secret: SecretStr | None = Field(
        default=None, description="Connected app consumer secret."
    )
    private_key_file: Path | None = Field(
        default=None, description="PEM key for the JWT bearer flow."
    )
    api_version: str = Field(default="62.0", description="REST API version.")
    timeout_s: float = Field(default=30.0, gt=0, description="Timeout of every HTTP call, seconds.")
    ca_bundle: Path | None = Field(
        default=None, description="Extra CA file to trust (the emulator's CA); unset: system CAs."
    )
    default_owner_username: str | None = Field(
        default=None,
        description="Username of the default owner; unset: the authenticated integration user.",
    )
    contact_external_id_field: str = Field(
        default="Sansan_Person_Id__c", description="External ID field on Contact."
    )
    account_external_id_field: str = Field(
        default="Sansan_Company_Key__c", description="External ID field on Account."
    )
    merged_into_field: str = Field(
        default="Sansan_Merged_Into__c",
        description="Contact field that marks a record merged into another person (survivor's ID).",
    )
    directory_refresh_s: int = Field(
        default=600, ge=1, description="How long the cached Salesforce user directory is trusted."
    )
    contact_index_max: int = Field(
        default=50_000,
        ge=0,
        description="Existing Contacts (without our external ID) read once into Redis for "
        "matching; more than this: one SOQL query per chunk instead.",
    )
    max_calls_in_flight: int = Field(
        default=10, ge=1, description="Salesforce calls at once across every worker process."
    )
    retry_attempts: int = Field(
        default=4, ge=1, description="Tries of one call before its batch goes back to the buffer."
    )
    retry_initial_s: float = Field(
        default=0.2,
        gt=0,
        description="First backoff after a transient call failure, seconds; doubles each try.",
    )
    retry_max_s: float = Field(
        default=5.0, gt=0, description="Longest backoff between tries of one call, seconds."
    )
    record_max_retries: int = Field(
        default=5,
        ge=0,
        description="Transient failures of one record (e.g. UNABLE_TO_LOCK_ROW) before it is "
        "dead-lettered.",
    )
    budget_usage_share: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Share of the org's daily API budget (Sforce-Limit-Info) at which every "
        "writer pauses.",
    )
    budget_initial_pause_s: float = Field(
        default=1.0,
        gt=0,
        description="First writers' pause once the budget is spent, seconds; doubles while it is.",
    )
    budget_max_pause_s: float = Field(
        default=300.0, gt=0, description="Longest writers' pause, seconds."
    )
    bulk_poll_initial_s: float = Field(
        default=0.2,
        gt=0,
        description="First wait between status polls of a Bulk API 2.0 job, seconds; doubles.",
    )
    bulk_poll_max_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait between polls of a Bulk job (each poll is an API call).",
    )
    bulk_job_timeout_s: float = Field(
        default=1800.0,
        gt=0,
        description="A Bulk job not finished after this long is aborted and retried, seconds.",
    )

    @model_validator(mode="after")
    def _initial_waits_within_their_maximum(self) -> SalesforceSettings:
        # The writer's call lease covers a call plus one backoff; see WriterPolicy.from_settings.
        for initial, longest, too_long in (
            ("retry_initial_s", "retry_max_s", self.retry_initial_s > self.retry_max_s),
            (
                "budget_initial_pause_s",
                "budget_max_pause_s",
                self.budget_initial_pause_s > self.budget_max_pause_s,
            ),
            (
                "bulk_poll_initial_s",
                "bulk_poll_max_s",
                self.bulk_poll_initial_s > self.bulk_poll_max_s,
            ),
        ):
            if too_long:
                section = f"{ENV_PREFIX}SALESFORCE__"
                raise ValueError(
                    f"{section}{initial.upper()} must not exceed {section}{longest.upper()}"
                )
        return self

    @property
    def configured(self) -> bool:
        return self.login_url is not None


class SansanSettings(BaseModel):
    """Sansan Open API access (used by the API source)."""

    api_key: SecretStr | None = Field(default=None, description="X-Sansan-Api-Key.")
    base_url: str = Field(default="https://api.sansan.com/v3.2", description="Open API base URL.")


class PipelineSettings(BaseModel):
    chunk_size: int = Field(default=200, ge=1, le=5000, description="Cards per queue message.")
    batch_size: int = Field(
        default=COLLECTIONS_MAX_RECORDS,
        ge=1,
        le=COLLECTIONS_MAX_RECORDS,
        description=f"Records per sObject Collections call (max {COLLECTIONS_MAX_RECORDS}).",
    )
    linger_ms: int = Field(
        default=2000,
        ge=0,
        description="Oldest pending record waits at most this long before a flush.",
    )
    auto_map_new_users: bool = Field(
        default=False,
        description="Map Sansan users first seen after the initial mapping by username match too.",
    )
    field_mapping_file: Path = Field(
        default=DEFAULT_FIELD_MAPPING,
        description="Which person field goes to which Salesforce field.",
    )
    bulk_threshold: int = Field(
        default=10_000,
        ge=1,
        description="Pending records of one sObject from which the writer uses Bulk API 2.0 "
        "ingest jobs instead of Collections calls.",
    )
    bulk_batch_size: int = Field(
        default=10_000, ge=1, description="Records per Bulk API 2.0 ingest job."
    )


class WorkerSettings(BaseModel):
    processes: int = Field(default=2, ge=1, description="Worker processes for `cardsync worker`.")
    threads: int = Field(default=4, ge=1, description="Threads per worker process.")
    heartbeat_timeout_ms: int = Field(
        default=60_000,
        ge=1000,
        description="A worker silent this long is dead; its messages return.",
    )
    max_retries: int = Field(default=10, ge=0, description="Retries of a failed message.")
    stranded_after_s: float = Field(
        default=900.0,
        gt=0,
        description="A message unacked this long under a live worker is requeued, seconds.",
    )
    reclaim_interval_s: float = Field(
        default=60.0, gt=0, description="How often workers look for stranded messages, seconds."
    )
    maintenance_chance: int = Field(
        default=100_000,
        ge=1,
        description="Broker calls per million that requeue dead workers' messages.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    redis_url: str | None = Field(
        default=None, description="Redis URL; unset: the demo starts a local redis-server."
    )
    log_format: LogFormat = Field(
        default=LogFormat.AUTO, description="auto (console on a TTY), console, json."
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR.")
    namespace: str = Field(default="cardsync", description="Prefix of cardsync's Redis keys.")
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    sansan: SansanSettings = Field(default_factory=SansanSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _auth_flow_complete(self) -> Settings:
        sf = self.salesforce
        if not sf.configured:
            return self
        needed = {
            AuthFlow.PASSWORD: ("username", "password"),
            AuthFlow.CLIENT_CREDENTIALS: ("client_id", "client_secret"),
            AuthFlow.JWT: ("username", "client_id", "private_key_file"),
        }[sf.auth_flow]
        given = sf.model_dump(include=set(needed))
        missing = [f"CARDSYNC_SALESFORCE__{name.upper()}" for name in needed if given[name] is None]
        if missing:
            raise ValueError(f"auth_flow {sf.auth_flow.value} needs {', '.join(missing)}")
        return self


class SettingsError(BadInputError):
    """Configuration is invalid; the message names each variable and the reason."""


def section_of(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a nested section (set as CARDSYNC_SECTION__FIELD), None for a plain field."""
    annotation: Any = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def variable_names() -> list[str]:
    """Every variable the settings read: each field, and each section whole (JSON) or by field."""
    names = []
    for name, field in Settings.model_fields.items():
        names.append(ENV_PREFIX + name.upper())
        section = section_of(field)
        if section is not None:
            names += [f"{ENV_PREFIX}{name.upper()}__{sub.upper()}" for sub in section.model_fields]
    return names


def unknown_variables(names: Iterable[str], where: str = "") -> list[str]:
    """A line per CARDSYNC_* name no setting reads (a typo), with the closest valid name."""
    known = variable_names()
    lines = []
    for name in names:
        upper = name.upper()  # pydantic-settings reads the variables case-insensitively
        if not upper.startswith(ENV_PREFIX) or upper.startswith(RESERVED_PREFIX) or upper in known:
            continue
        # Compared without the prefix they all share, which would make any two names look close.
        close = difflib.get_close_matches(
            upper.removeprefix(ENV_PREFIX), [k.removeprefix(ENV_PREFIX) for k in known], n=1
        )
        hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
        lines.append(f"unknown variable {name}{where}{hint}")
    return lines


def _dotenv_files(overrides: dict[str, object]) -> Iterator[Path]:
    configured: Any = overrides.get("_env_file", Settings.model_config.get("env_file"))
    if configured is None:
        return
    for file in configured if isinstance(configured, list | tuple) else (configured,):
        if Path(file).is_file():
            yield Path(file)


def _unknown_in_sources(overrides: dict[str, object]) -> list[str]:
    lines = unknown_variables(os.environ)
    for file in _dotenv_files(overrides):
        lines += unknown_variables(dotenv_values(file, encoding="utf-8"), f" in {file}")
    return lines


def _validation_problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        variable = ENV_PREFIX + "__".join(loc).upper() if loc else "configuration"
        lines.append(f"{variable}: {item['msg']}")
    return lines


def _source_problem(error: SourceError) -> str:
    # pydantic-settings fails before validation when a section set as one variable
    # (CARDSYNC_SALESFORCE='{...}') is not valid JSON; it names the field, never the value.
    match = re.search(r'field "([^"]+)"', str(error))
    variable = ENV_PREFIX + match.group(1).upper() if match else "configuration"
    return f"{variable}: cannot parse the value (a whole section must be a JSON object)"


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; every unknown variable and invalid value in one SettingsError.

    The error never chains pydantic's, which carries the values (secrets among them)."""
    problems = _unknown_in_sources(overrides)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems += _validation_problems(error)
    except SourceError as error:
        problems.append(_source_problem(error))
    if problems:
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
