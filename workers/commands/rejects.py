"""`cardsync rejects IMPORT_ID`: the rows of an import that were rejected, and why."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer

from workers.commands import context


def rejects(
    import_id: Annotated[str, typer.Argument(help="The import id `cardsync import` printed.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: card_id,source,line,field,reason.")
    ] = False,
) -> None:
    """List the rows of an import that were rejected, with file, line, field and reason."""
    rows = context.runtime().tracker.rejects(import_id)
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
