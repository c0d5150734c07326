"""`cardsync worker`: run the pipeline's dramatiq workers in this process's place."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from pipeline.errors import BadInputError
from workers.commands import context


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
    settings = context.settings()
    from workers.queues import QUEUES

    unknown = sorted(set(queues or ()) - set(QUEUES))
    if unknown:
        raise BadInputError(
            f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(QUEUES)}"
        )
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
