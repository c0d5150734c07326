"""The `emulator` commands: run local stand-ins for external services in the foreground."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from emulators.salesforce.credentials import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    INTEGRATION_PASSWORD,
    INTEGRATION_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
)
from emulators.salesforce.faults import FaultSettings, parse_error_rate, parse_record_fault
from emulators.salesforce.server import RunningEmulator, start_emulator

DEFAULT_PORT = 7443

emulator_app = typer.Typer(help="Local stand-ins for external services.", no_args_is_help=True)


@emulator_app.callback()
def _group() -> None:
    """Local stand-ins for external services."""
    # A callback keeps this a command group even while it has a single command.


def describe_emulator(emulator: RunningEmulator) -> str:
    """What to print once the emulator serves: where, which CA, which credentials."""
    return "\n".join(
        [
            f"Salesforce emulator listening on {emulator.url}",
            f"  CA certificate   {emulator.ca_file}",
            f"  state            {emulator.store.path}",
            f"  client id        {DEMO_CLIENT_ID}",
            f"  client secret    {DEMO_CLIENT_SECRET}",
            f"  username         {INTEGRATION_USERNAME}",
            f"  password         {INTEGRATION_PASSWORD} (security token "
            f"{INTEGRATION_SECURITY_TOKEN}, optional)",
            "",
            "Point cardsync at it:",
            f"  export CARDSYNC_SALESFORCE__LOGIN_URL={emulator.url}",
            f"  export CARDSYNC_SALESFORCE__CA_BUNDLE={emulator.ca_file}",
            "  export CARDSYNC_SALESFORCE__AUTH_FLOW=client_credentials",
            f"  export CARDSYNC_SALESFORCE__CLIENT_ID={DEMO_CLIENT_ID}",
            f"  export CARDSYNC_SALESFORCE__CLIENT_SECRET={DEMO_CLIENT_SECRET}",
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def run_salesforce(
    *,
    port: int = DEFAULT_PORT,
    seed: Path | None = None,
    state: Path | None = None,
    latency_ms: int = 0,
    data_dir: Path | None = None,
    page_size: int = 2000,
    daily_api_limit: int = 1_000_000,
    log_requests: bool = False,
    host: str = "127.0.0.1",
    public_host: str | None = None,
    faults: FaultSettings | None = None,
    stop: threading.Event | None = None,
    echo: Callable[[str], None] = typer.echo,
) -> None:
    """Serve until `stop` is set, or until SIGINT/SIGTERM when run in the main thread."""
    stop = stop or threading.Event()
    emulator = start_emulator(
        port=port,
        seed=seed,
        state=state,
        latency_ms=latency_ms,
        data_dir=data_dir,
        page_size=page_size,
        daily_api_limit=daily_api_limit,
        log_requests=log_requests,
        host=host,
        public_host=public_host,
        faults=faults,
    )
    previous: dict[signal.Signals, object] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        echo(describe_emulator(emulator))
        # A bounded wait lets the signal handler run promptly on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
        for restored, handler in previous.items():
            signal.signal(restored, handler)  # type: ignore[arg-type]
        echo(f"Salesforce emulator stopped ({emulator.api_calls()} API calls served).")


@emulator_app.command("salesforce")
def salesforce(
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 to serve HTTPS on; 0 picks a free one.")
    ] = DEFAULT_PORT,
    seed: Annotated[
        Path | None,
        typer.Option(
            help='Seed file (JSON: {"User": [...], "Account": [...]}) for a fresh state; '
            "default: the demo org.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="SQLite file that keeps the org across restarts; default: temporary."),
    ] = None,
    latency_ms: Annotated[
        int, typer.Option(min=0, help="Milliseconds added to every data API response.")
    ] = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the CA and server certificate live; default: ~/.cache/cardsync/emulator."
        ),
    ] = None,
    page_size: Annotated[
        int, typer.Option(min=1, help="Records per query page (Salesforce: 2000).")
    ] = 2000,
    daily_api_limit: Annotated[
        int, typer.Option(min=0, help="Data API calls allowed before REQUEST_LIMIT_EXCEEDED.")
    ] = 1_000_000,
    log_requests: Annotated[bool, typer.Option(help="Log every request on stderr.")] = False,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 inside a container).")
    ] = "127.0.0.1",
    public_host: Annotated[
        str | None,
        typer.Option(help="Name clients use to reach it (URLs, certificate); default 127.0.0.1."),
    ] = None,
    fault_seed: Annotated[
        int, typer.Option(help="Seed of the random draws of fault injection.")
    ] = 0,
    error_rate: Annotated[
        list[str] | None,
        typer.Option(
            help="CODE=RATE: share of data calls answered with this error, e.g. "
            "SERVER_UNAVAILABLE=0.1 (repeatable)."
        ),
    ] = None,
    fail_record: Annotated[
        list[str] | None,
        typer.Option(
            help="FIELD=VALUE[:CODE]: records with this value fail with CODE (default "
            "STRING_TOO_LONG) (repeatable)."
        ),
    ] = None,
    record_lock_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of records failing UNABLE_TO_LOCK_ROW.")
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls whose connection is dropped.")
    ] = 0.0,
    slow_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls held --slow-ms before answering.")
    ] = 0.0,
    slow_ms: Annotated[int, typer.Option(min=0, help="Delay of a slow call.")] = 0,
    expire_sessions_after: Annotated[
        int, typer.Option(min=0, help="Expire every session once after N data calls (0: never).")
    ] = 0,
    limit_episode_after: Annotated[
        int,
        typer.Option(
            min=0, help="After N data calls, answer REQUEST_LIMIT_EXCEEDED for a while, once."
        ),
    ] = 0,
    limit_episode_s: Annotated[
        float, typer.Option(min=0, help="Length of that REQUEST_LIMIT_EXCEEDED episode.")
    ] = 60.0,
) -> None:
    """Run a local Salesforce REST API emulator (HTTPS, SQLite-backed) until Ctrl-C.

    Faults can also be changed while it runs: POST /__admin/faults with a JSON object of the
    same settings (error_rates, record_failures, drop_rate, slow_rate, slow_ms, latency_ms,
    expire_sessions_after, record_lock_rate, seed, limit_episode_s).
    """
    try:
        faults = FaultSettings.from_dict(
            {
                "seed": fault_seed,
                "error_rates": dict(parse_error_rate(t) for t in error_rate or []),
                "record_failures": [parse_record_fault(t) for t in fail_record or []],
                "record_lock_rate": record_lock_rate,
                "drop_rate": drop_rate,
                "slow_rate": slow_rate,
                "slow_ms": slow_ms,
                "expire_sessions_after": expire_sessions_after,
                "limit_episode_after": limit_episode_after,
                "limit_episode_length_s": limit_episode_s,
            }
        )
    except ValueError as error:
        typer.echo(f"Invalid fault settings: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        run_salesforce(
            port=port,
            seed=seed,
            state=state,
            latency_ms=latency_ms,
            data_dir=data_dir,
            page_size=page_size,
            daily_api_limit=daily_api_limit,
            log_requests=log_requests,
            host=host,
            public_host=public_host,
            faults=faults,
        )
    except OSError as error:
        typer.echo(f"Cannot start the Salesforce emulator on port {port}: {error}", err=True)
        raise typer.Exit(1) from None
    except ValueError as error:  # a seed the emulator refuses
        typer.echo(f"Cannot load the seed: {error}", err=True)
        raise typer.Exit(1) from None
