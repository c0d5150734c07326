"""`cardsync demo`: the whole job on embedded defaults, ending with a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.errors import JobNotFinishedError
from workers.commands import context


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
    context.settings()
    from demo.run import DemoOptions, run_demo, summary_json

    options = DemoOptions(
        input_file=input_file,
        cards=cards,
        seed=seed,
        salesforce_seed=salesforce_seed,
        workers=workers,
        threads=threads,
        dump_dir=dump,
    )
    summary = run_demo(options, lambda message: typer.echo(message, err=True))
    typer.echo(summary_json(summary) if as_json else summary.render())
    if not summary.drained:
        raise JobNotFinishedError("timed out before every queue drained")
