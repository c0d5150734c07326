"""The `cardsync` command: one Typer app, every subcommand run inside the error boundary.

Each subcommand lives in its own module here and only parses, calls a use-case (workers/ops/
or a store) and prints; errors are raised and reported by `boundary`.
"""

from __future__ import annotations

import typer

from demo.local_salesforce import emulator_app
from workers.commands.boundary import CardsyncGroup
from workers.commands.dead_letters import dead_letters_app
from workers.commands.demo import demo
from workers.commands.importing import import_cards
from workers.commands.mapping import mapping_app
from workers.commands.preview import preview
from workers.commands.reconcile import reconcile
from workers.commands.rejects import rejects
from workers.commands.status import status
from workers.commands.worker import worker

app = typer.Typer(
    cls=CardsyncGroup,
    help="Sync Sansan business cards into Salesforce through a dramatiq pipeline on Redis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command()(demo)
app.command("import")(import_cards)
app.command()(status)
app.command()(rejects)
app.command()(preview)
app.command()(reconcile)
app.command()(worker)
app.add_typer(emulator_app, name="emulator")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(mapping_app, name="mapping")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
