"""`cardsync status`: queue depth per stage, writer backlog, workers alive, per-import progress."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from workers.commands import context


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
    rt = context.runtime()
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
