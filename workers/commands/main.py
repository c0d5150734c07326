"""The `cardsync` command: run the demo, import files, run workers, watch status."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from config.logging import configure_logging
from config.settings import SettingsError, get_settings
from demo.local_salesforce import emulator_app

app = typer.Typer(
    help="Sync Sansan business cards into Salesforce through a dramatiq pipeline on Redis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


app.add_typer(emulator_app, name="emulator")


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings():  # type: ignore[no-untyped-def]
    try:
        settings = get_settings()
    except SettingsError as error:
        _fail(str(error))
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _runtime():  # type: ignore[no-untyped-def]
    _settings()
    from workers.runtime import get_runtime

    return get_runtime()


@app.command()
def demo(
    input_file: Annotated[
        Path | None,
        typer.Option("--input", exists=True, dir_okay=False, help="A Sansan CSV file to sync."),
    ] = None,
    cards: Annotated[
        int, typer.Option(min=1, help="Generate this many cards when no --input.")
    ] = 1000,
    salesforce_seed: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Seed JSON for the local Salesforce emulator."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="Threads per worker process.")] = 4,
    dump: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Write the emulator's records to DIR/<SObject>.jsonl."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the generated cards.")] = 7,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Run the whole job on embedded defaults and print a summary.

    Starts a local redis-server unless CARDSYNC_REDIS_URL is set, and the local Salesforce
    emulator unless Salesforce is configured; runs the four stages in worker processes until
    every queue has drained.
    """
    _settings()
    from demo.local_redis import RedisNotFound
    from demo.run import DemoOptions, run_demo, summary_json

    def progress(message: str) -> None:
        typer.echo(message, err=True)

    options = DemoOptions(
        input_file=input_file,
        cards=cards,
        seed=seed,
        salesforce_seed=salesforce_seed,
        workers=workers,
        threads=threads,
        dump_dir=dump,
    )
    try:
        summary = run_demo(options, progress)
    except (RedisNotFound, ValueError, RuntimeError) as error:
        _fail(str(error))
    if as_json:
        typer.echo(summary_json(summary))
    else:
        typer.echo(summary.render())
    if not summary.drained:
        _fail("timed out before every queue drained", 1)


@app.command("import")
def import_cards(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Sansan card CSV (CP932 or UTF-8).")
    ],
    chunk_size: Annotated[int | None, typer.Option(min=1, help="Cards per queue message.")] = None,
) -> None:
    """Stream FILE into the pipeline and print the import id; workers do the rest."""
    rt = _runtime()
    from pipeline.headers import MissingHeaderError
    from workers.sources.csv_file import CsvFormatError, EncodingError
    from workers.sources.importer import import_file

    try:
        started = import_file(rt, file, chunk_size=chunk_size)
    except (MissingHeaderError, EncodingError, CsvFormatError) as error:
        _fail(str(error))
    typer.echo(started.import_id)
    typer.echo(
        f"{started.rows} rows in {started.chunks} chunks ({started.encoding}); "
        f"follow with: cardsync status --watch",
        err=True,
    )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per reading.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until interrupted.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between readings with --watch.")
    ] = 2.0,
    import_id: Annotated[
        list[str] | None, typer.Option("--import", help="Show these imports.")
    ] = None,
) -> None:
    """Queue depth per stage (ready, in flight, delayed, dead), writer backlog, workers, imports."""
    rt = _runtime()
    from workers.ops.status import read_status, render_status
    from workers.queues import QUEUES

    while True:
        reading = read_status(
            rt.redis,
            rt.keys,
            QUEUES,
            heartbeat_timeout_ms=rt.settings.worker.heartbeat_timeout_ms,
            import_ids=import_id,
        )
        if as_json:
            typer.echo(json.dumps(reading.to_dict(), ensure_ascii=False))
        else:
            if watch and sys.stdout.isatty():
                typer.echo("\x1b[2J\x1b[H", nl=False)
            typer.echo(render_status(reading))
        if not watch:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


@app.command()
def rejects(
    import_id: Annotated[str, typer.Argument(help="The import id `cardsync import` printed.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: card_id,source,line,field,reason.")
    ] = False,
) -> None:
    """List the rows of an import that were rejected, with file, line, field and reason."""
    rt = _runtime()
    rows = rt.tracker.rejects(import_id)
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["card_id", "source", "line", "field", "reason"])
        for r in rows:
            writer.writerow([r.card_id, r.source, r.line, r.field, r.reason])
        return
    for r in rows:
        typer.echo(
            f"{r.source}:{r.line}: {r.field}: {r.reason}"
            + (f" (card {r.card_id})" if r.card_id else "")
        )
    typer.echo(f"{len(rows)} rejected", err=True)


def _register_preview() -> None:
    from workers.ops.preview import preview

    app.command("preview")(preview)


_register_preview()


def _register_reliability() -> None:
    from workers.ops.reconcile import reconcile
    from workers.state.dead_letters import dead_letters_app

    app.add_typer(dead_letters_app, name="dead-letters")
    app.command("reconcile")(reconcile)


_register_reliability()

mapping_app = typer.Typer(
    help="Owner mapping: which Salesforce user owns the cards of each Sansan user.",
    no_args_is_help=True,
)
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("show")
def mapping_show(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per Sansan user.")
    ] = False,
) -> None:
    """Every Sansan user seen, the Salesforce user their cards go to, and why."""
    rt = _runtime()
    from dataclasses import asdict

    from workers.ops.mapping_admin import mapping_rows

    rows = mapping_rows(rt)
    for r in rows:
        if as_json:
            typer.echo(json.dumps(asdict(r), ensure_ascii=False))
        else:
            typer.echo(
                f"{r.sansan_user:<12} {r.sansan_email:<32} -> {r.salesforce_username}  ({r.reason})"
            )
    if not as_json:
        typer.echo(f"{len(rows)} Sansan users", err=True)


@mapping_app.command("set")
def mapping_set(
    sansan_user: Annotated[str, typer.Argument(help="Sansan user id or email.")],
    salesforce_username: Annotated[
        str, typer.Argument(help="Username of an active Salesforce user.")
    ],
) -> None:
    """Override one Sansan user's owner (wins over the username match and the default user)."""
    rt = _runtime()
    from workers.ops.mapping_admin import MappingError, set_override

    try:
        user_id = set_override(rt, sansan_user, salesforce_username)
    except MappingError as error:
        _fail(str(error))
    typer.echo(
        f"{sansan_user} -> {salesforce_username} ({user_id}); applies to records written from now"
    )


@mapping_app.command("reset")
def mapping_reset(
    sansan_user: Annotated[str, typer.Argument(help="Sansan user id or email.")],
) -> None:
    """Remove one Sansan user's override; the mapping rules apply again."""
    rt = _runtime()
    if not rt.owners.reset_override(sansan_user):
        _fail(f"{sansan_user} has no override", 1)
    typer.echo(f"{sansan_user}: override removed")


@mapping_app.command("export")
def mapping_export(
    file: Annotated[Path | None, typer.Argument(help="CSV to write; default: stdout.")] = None,
) -> None:
    """Write the mapping as CSV (edit salesforce_username, then `cardsync mapping import`)."""
    rt = _runtime()
    from workers.ops.mapping_admin import export_csv, mapping_rows

    text = export_csv(mapping_rows(rt))
    if file is None:
        typer.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")


@mapping_app.command("import")
def mapping_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV with sansan_user, salesforce_username."
        ),
    ],
) -> None:
    """Apply overrides in bulk from a CSV: all rows are checked first; one bad row applies none."""
    rt = _runtime()
    from workers.ops.mapping_admin import MappingError, import_csv

    try:
        applied = import_csv(rt, file)
    except MappingError as error:
        _fail(str(error))
    typer.echo(f"{applied} overrides applied")


@app.command()
def worker(
    processes: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (CARDSYNC_WORKER__PROCESSES).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Threads per process (CARDSYNC_WORKER__THREADS).")
    ] = None,
    queues: Annotated[
        list[str] | None, typer.Option("--queue", "-Q", help="Only these queues (repeatable).")
    ] = None,
) -> None:
    """Run pipeline workers (wraps `dramatiq workers.stages`) until SIGTERM or Ctrl-C."""
    settings = _settings()
    from workers.queues import QUEUES

    unknown = sorted(set(queues or ()) - set(QUEUES))
    if unknown:
        _fail(f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(QUEUES)}")
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.stages",
        "--processes",
        str(processes or settings.worker.processes),
        "--threads",
        str(threads or settings.worker.threads),
    ]
    if queues:
        args += ["--queues", *queues]
    os.execv(sys.executable, args)


def main() -> None:
    import redis

    from config.logging import redact_text

    try:
        app()
    except redis.exceptions.ConnectionError as error:
        typer.secho(
            f"error: cannot reach Redis: {redact_text(str(error))}; is it running, and is "
            "CARDSYNC_REDIS_URL right?",
            fg=typer.colors.RED,
            err=True,
        )
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
