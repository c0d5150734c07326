"""All configuration of cardsync in one typed place, read from CARDSYNC_* variables and `.env`."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from pipeline.errors import BadInputError

DEFAULT_FIELD_MAPPING = Path(__file__).with_name("field_mapping.toml")


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
        default=200, ge=1, le=200, description="Records per sObject Collections call (max 200)."
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
        env_prefix="CARDSYNC_",
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
        missing = [
            f"CARDSYNC_SALESFORCE__{name.upper()}" for name in needed if getattr(sf, name) is None
        ]
        if missing:
            raise ValueError(f"auth_flow {sf.auth_flow.value} needs {', '.join(missing)}")
        return self


class SettingsError(BadInputError):
    """Configuration is invalid; the message names each variable and the reason."""


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        variable = "CARDSYNC_" + "__".join(loc).upper() if loc else "configuration"
        lines.append(f"{variable}: {item['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def describe_source_error(error: SourceError) -> str:
    # pydantic-settings fails before validation when a section set as one variable
    # (CARDSYNC_SALESFORCE='{...}') is not valid JSON; it names the field, never the value.
    match = re.search(r'field "([^"]+)"', str(error))
    variable = "CARDSYNC_" + match.group(1).upper() if match else "configuration"
    reason = "cannot parse the value (a whole section must be a JSON object)"
    return f"invalid configuration:\n  {variable}: {reason}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings once, turning pydantic's error into one that names the variables."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    except SourceError as error:
        raise SettingsError(describe_source_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
