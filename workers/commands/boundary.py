"""The one error boundary of `cardsync`: an operator's error becomes `error: <message>` and a code.

Every command runs inside it (the root group's `invoke` wraps the chosen subcommand, nested
groups included), so a command raises and never prints an error itself. Exit codes are the
README's: 1 the job did not finish or the named thing does not exist, 2 bad input or
configuration, 3 Redis unreachable. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import redis
import typer
from typer.core import TyperGroup

from config.logging import redact_text
from pipeline.errors import CardsyncError, ServiceUnreachableError

REDIS_UNREACHABLE_HINT = "is it running, and is CARDSYNC_REDIS_URL right?"


def fail(message: str, exit_code: int) -> NoReturn:
    """Print `error: <message>` on stderr (red on a terminal) and exit with `exit_code`."""
    typer.secho(f"error: {redact_text(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(exit_code)


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn the project's errors, and Redis not answering, into one `error:` line and exit code."""
    try:
        yield
    except CardsyncError as error:
        fail(str(error), error.exit_code)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        # The URL in redis-py's message may carry a password; fail() redacts it.
        fail(
            f"cannot reach Redis: {error}; {REDIS_UNREACHABLE_HINT}",
            ServiceUnreachableError.exit_code,
        )


class CardsyncGroup(TyperGroup):
    """The root command group: runs whichever subcommand was chosen inside the error boundary."""

    def invoke(self, ctx: Any) -> Any:
        with error_boundary():
            return super().invoke(ctx)
