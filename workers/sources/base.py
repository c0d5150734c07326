"""What the importer reads: a source of raw card rows (a CSV file now, the Sansan API next).

A source only reads and labels; validation (pipeline/validation.py) runs in card_ingest, so every
source's rows meet the same rules. CardFile (csv_file.py) is one; a new source needs no change to
the importer or the stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from pipeline.models import Reject


class RawRow(Protocol):
    """One card as read: where it came from and its fields by card field name."""

    @property
    def line(self) -> int:
        """Position in the source (the file's line; for an API, the record's ordinal)."""
        ...

    @property
    def values(self) -> dict[str, str]:
        """Card field name (pipeline.headers) -> value as read, before normalisation."""
        ...


class CardSource(Protocol):
    """Raw card rows, or rejects for rows the source could not read at all."""

    @property
    def source(self) -> str:
        """The name rejects, dead letters and the import record carry (a file name, say)."""
        ...

    @property
    def encoding(self) -> str:
        """How the source was decoded, for the import record (e.g. cp932, utf-8)."""
        ...

    @property
    def unknown_headers(self) -> tuple[str, ...]:
        """Columns or fields the source had that no card field takes; reported, not read."""
        ...

    def rows(self) -> Iterator[RawRow | Reject]:
        """Every row once, in source order; raise before the first row if nothing can be read."""
        ...
