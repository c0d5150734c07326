"""The errors an operator can act on, each carrying the exit code the README documents.

A command prints such an error as one `error: <message>` line and exits with its code; anything
else is a bug and keeps its traceback. Messages name what to fix (file, line, header, variable)
and never contain a secret. This module sits in `pipeline/` so that the domain, `config/` and
`workers/` can all raise these without importing each other.
"""

from __future__ import annotations


class CardsyncError(Exception):
    """Base of every error reported without a traceback; `exit_code` is what the command returns."""

    exit_code: int = 1


class JobNotFinishedError(CardsyncError):
    """The job stopped before it was done (the demo timed out, its workers exited)."""

    exit_code = 1


class NotFoundError(CardsyncError):
    """What the command names (an import, a dead letter, an override) does not exist."""

    exit_code = 1


class BadInputError(CardsyncError):
    """A file, an argument or the configuration is wrong; the message says which and where."""

    exit_code = 2


class ServiceUnreachableError(CardsyncError):
    """A service the command needs (Redis) does not answer."""

    exit_code = 3
