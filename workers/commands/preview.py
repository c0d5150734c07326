"""`cardsync preview FILE`: what an import would merge and write, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workers.commands import context
from workers.ops.preview import run_preview


def preview(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Sansan card CSV (CP932 or UTF-8).")
    ],
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Where persons/plan/rejects.csv go.")
    ] = Path("preview"),
    salesforce_seed: Annotated[
        Path | None,
        typer.Option(
            "--salesforce-seed",
            exists=True,
            dir_okay=False,
            help="Seed a local Salesforce emulator with this JSON instead of the configured org.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Dry run: what an import of FILE would merge and write, without writing anything."""
    context.settings()
    summary = run_preview(file, out, salesforce_seed=salesforce_seed)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        typer.echo(summary.render())
