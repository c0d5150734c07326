"""`cardsync dead-letters list|show|replay|purge`: what did not reach Salesforce; replay it."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from pipeline.errors import BadInputError, NotFoundError
from workers.commands import context
from workers.state.dead_letters import KINDS, DeadLetter, DeadLetterStore

dead_letters_app = typer.Typer(
    help="Records, rejected rows and queue messages that did not reach Salesforce.",
    no_args_is_help=True,
)

KindOption = Annotated[
    list[str] | None, typer.Option("--kind", help="record, reject or message (repeatable).")
]
CodeOption = Annotated[
    str | None, typer.Option("--error-code", help="Only items with this error code / reason.")
]
ImportOption = Annotated[str | None, typer.Option("--import", help="Only items of this import.")]
IdsArgument = Annotated[list[str] | None, typer.Argument(help="Ids from `list`.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter.")]


def _store() -> DeadLetterStore:
    rt = context.runtime()
    return DeadLetterStore(rt.redis, rt.keys)


@dead_letters_app.command("list")
def list_command(
    kind: KindOption = None,
    error_code: CodeOption = None,
    import_id: ImportOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per item.")] = False,
) -> None:
    """List dead letters: id, kind, reason, time, import, cards."""
    items = _store().list(kinds=kind or KINDS, error_code=error_code, import_id=import_id)
    for item in items:
        if as_json:
            summary = {k: v for k, v in item.to_dict().items() if k != "detail"}
            typer.echo(json.dumps(summary, ensure_ascii=False))
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.at)) if item.at else "-"
            typer.echo(
                f"{item.id}\t{item.reason}\t{when}\t{','.join(item.import_ids)}\t"
                f"{len(item.card_ids)} cards\t{item.message[:80]}"
            )
    typer.echo(f"{len(items)} dead letters", err=True)


@dead_letters_app.command("show")
def show_command(item_id: Annotated[str, typer.Argument(help="An id from `list`.")]) -> None:
    """Everything kept about one dead letter, as JSON."""
    item = _store().get(item_id)
    if item is None:
        raise NotFoundError(f"no dead letter {item_id}")
    typer.echo(json.dumps(item.to_dict(), ensure_ascii=False, indent=2))


def _select(
    store: DeadLetterStore,
    ids: list[str] | None,
    everything: bool,
    kind: list[str] | None,
    error_code: str | None,
    import_id: str | None,
) -> list[DeadLetter]:
    """The items named by id, or chosen by filters; refuses to act on everything by default."""
    if ids:
        found = [store.get(i) for i in ids]
        missing = [i for i, item in zip(ids, found, strict=True) if item is None]
        if missing:
            raise NotFoundError(f"no dead letter {', '.join(missing)}")
        return [i for i in found if i is not None]
    if not (everything or error_code or kind or import_id):
        raise BadInputError("name ids, or use --all / --error-code / --kind")
    return store.list(kinds=kind or KINDS, error_code=error_code, import_id=import_id)


@dead_letters_app.command("replay")
def replay_command(
    ids: IdsArgument = None,
    everything: AllOption = False,
    kind: KindOption = None,
    error_code: CodeOption = None,
    import_id: ImportOption = None,
) -> None:
    """Send dead letters through the normal path again (after fixing their cause)."""
    rt = context.runtime()
    store = DeadLetterStore(rt.redis, rt.keys)
    items = _select(store, ids, everything, kind, error_code, import_id)
    report = store.replay(items, rt.broker, rt.buffer)
    for item_id, why in report.skipped.items():
        typer.echo(f"skipped {item_id}: {why}", err=True)
    typer.echo(f"{len(report.replayed)} replayed, {len(report.skipped)} skipped")


@dead_letters_app.command("purge")
def purge_command(
    ids: IdsArgument = None,
    everything: AllOption = False,
    kind: KindOption = None,
    error_code: CodeOption = None,
    import_id: ImportOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Forget dead letters for good."""
    store = _store()
    items = _select(store, ids, everything, kind, error_code, import_id)
    if not yes and not typer.confirm(f"Forget {len(items)} dead letters?"):
        raise typer.Exit(1)
    typer.echo(f"{store.purge(items)} purged")
