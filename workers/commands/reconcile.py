"""`cardsync reconcile IMPORT_ID`: every card of an import accounted for."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workers.commands import context
from workers.ops.reconcile import reconcile_import

# The exit code docs/reliability.md documents for numbers that do not add up.
DOES_NOT_ADD_UP = 3


def reconcile(
    import_id: Annotated[str, typer.Argument(help="The import id `cardsync import` printed.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Account for every card of an import: rejected, merged, written or dead-lettered."""
    rt = context.runtime()
    result = reconcile_import(rt.redis, rt.keys, import_id)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        typer.echo(result.render())
    if not result.adds_up:
        raise typer.Exit(DOES_NOT_ADD_UP)
