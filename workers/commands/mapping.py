"""`cardsync mapping show|set|reset|export|import`: which Salesforce user owns whose cards."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import NotFoundError
from workers.commands import context

mapping_app = typer.Typer(
    help="Owner mapping: which Salesforce user owns the cards of each Sansan user.",
    no_args_is_help=True,
)


@mapping_app.command("show")
def mapping_show(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per Sansan user.")
    ] = False,
) -> None:
    """Every Sansan user seen, the Salesforce user their cards go to, and why."""
    rt = context.runtime()
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
    rt = context.runtime()
    from workers.ops.mapping_admin import set_override

    user_id = set_override(rt, sansan_user, salesforce_username)
    typer.echo(
        f"{sansan_user} -> {salesforce_username} ({user_id}); applies to records written from now"
    )


@mapping_app.command("reset")
def mapping_reset(
    sansan_user: Annotated[str, typer.Argument(help="Sansan user id or email.")],
) -> None:
    """Remove one Sansan user's override; the mapping rules apply again."""
    if not context.runtime().owners.reset_override(sansan_user):
        raise NotFoundError(f"{sansan_user} has no override")
    typer.echo(f"{sansan_user}: override removed")


@mapping_app.command("export")
def mapping_export(
    file: Annotated[Path | None, typer.Argument(help="CSV to write; default: stdout.")] = None,
) -> None:
    """Write the mapping as CSV (edit salesforce_username, then `cardsync mapping import`)."""
    rt = context.runtime()
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
    rt = context.runtime()
    from workers.ops.mapping_admin import import_csv

    typer.echo(f"{import_csv(rt, file)} overrides applied")
