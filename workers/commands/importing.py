"""`cardsync import FILE`: stream a card file into the pipeline and print the import id."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workers.commands import context


def import_cards(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Sansan card CSV (CP932 or UTF-8).")
    ],
    chunk_size: Annotated[int | None, typer.Option(min=1, help="Cards per queue message.")] = None,
) -> None:
    """Stream FILE into the pipeline and print the import id; workers do the rest."""
    rt = context.runtime()
    from workers.sources.importer import import_file

    started = import_file(rt, file, chunk_size=chunk_size)
    typer.echo(started.import_id)
    typer.echo(
        f"{started.rows} rows in {started.chunks} chunks ({started.encoding}); "
        f"follow with: cardsync status --watch",
        err=True,
    )
