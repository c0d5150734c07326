"""Stream business cards out of a CSV file of any size, in UTF-8 (with or without BOM) or CP932."""

from __future__ import annotations

import codecs
import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

from pipeline.errors import BadInputError
from pipeline.headers import HeaderMap, map_headers
from pipeline.models import Card, Reject
from pipeline.validation import validate_row

__all__ = [
    "CardFile",
    "CsvFormatError",
    "EncodingError",
    "detect_encoding",
    "read_cards",
]

_CHUNK = 1 << 16
_UTF8_BOM = codecs.BOM_UTF8


class EncodingError(BadInputError, ValueError):
    """The file decodes neither as UTF-8 nor as CP932; names the file and the byte offset."""

    def __init__(self, file: str, offset: int, byte: int, detail: str = "") -> None:
        self.file = file
        self.offset = offset
        super().__init__(f"{file}: cannot decode byte 0x{byte:02X} at byte offset {offset}{detail}")


class CsvFormatError(BadInputError, ValueError):
    """The CSV structure itself is broken (e.g. an unterminated quote swallowing the file)."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file} line {line}: {problem}")


def _first_undecodable(path: Path, encoding: str) -> int | None:
    """Byte offset of the first undecodable byte, streaming the file in chunks; None if clean."""
    decoder = codecs.getincrementaldecoder(encoding)()
    position = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            # Bytes of a character split across chunks wait in the decoder; an error offset
            # counts from the first of them.
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                return position - pending + error.start
            if not chunk:
                return None
            position += len(chunk)


def _byte_at(path: Path, offset: int) -> int:
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read(1)
    return data[0] if data else 0


def detect_encoding(path: Path, *, name: str | None = None) -> str:
    """`utf-8-sig`, `utf-8` or `cp932`, checked over the whole file in constant memory.

    A BOM means UTF-8. Otherwise a file that is valid UTF-8 throughout is UTF-8 (pure ASCII
    included) and anything else must be valid CP932 (Shift_JIS with Windows extensions).
    """
    path = Path(path)
    name = name or path.name
    with path.open("rb") as fh:
        has_bom = fh.read(len(_UTF8_BOM)) == _UTF8_BOM
    utf8_error = _first_undecodable(path, "utf-8")
    if utf8_error is None:
        return "utf-8-sig" if has_bom else "utf-8"
    if has_bom:
        raise EncodingError(name, utf8_error, _byte_at(path, utf8_error), " (UTF-8 with BOM)")
    cp932_error = _first_undecodable(path, "cp932")
    if cp932_error is None:
        return "cp932"
    raise EncodingError(
        name,
        cp932_error,
        _byte_at(path, cp932_error),
        f" as CP932 (not UTF-8 either: invalid byte at offset {utf8_error})",
    )


class RawRow(NamedTuple):
    line: int
    values: dict[str, str]
    cells: list[str]


class CardFile:
    """One CSV file of cards: encoding and headers checked on opening, cards read on iteration.

    Iterating streams the file again each time; `cards` and `rejects` count the last pass.
    """

    def __init__(self, path: Path | str, *, source_name: str | None = None) -> None:
        self.path = Path(path)
        self.source = source_name or self.path.name
        self.encoding = detect_encoding(self.path, name=self.source)
        with self._open() as fh:
            try:
                header = next(csv.reader(fh), None)
            except csv.Error as error:
                raise CsvFormatError(self.source, 1, str(error)) from None
        if header is None:
            raise CsvFormatError(self.source, 1, "empty file, expected a header row")
        self.header_map: HeaderMap = map_headers(header, file=self.source)
        self.cards = 0
        self.rejects = 0

    @property
    def style(self) -> str:
        return self.header_map.style

    @property
    def unknown_headers(self) -> tuple[str, ...]:
        return self.header_map.unknown

    def _open(self) -> TextIO:
        # newline="" lets the csv module see line breaks inside quoted fields as they are.
        return self.path.open(encoding=self.encoding, newline="")

    def _raw(self, row: list[str]) -> dict[str, str]:
        headers = self.header_map.headers
        raw: dict[str, str] = {}
        for i, cell in enumerate(row):
            header = headers[i].strip() if i < len(headers) else ""
            raw.setdefault(header or f"column {i + 1}", cell)
        return raw

    def rows(self) -> Iterator[RawRow | Reject]:
        """Raw rows (line, values keyed by Card field names, cells), or a Reject for a bad row.

        Validation is left to the caller, so the pipeline can run it in its ingest workers.
        """
        header_map = self.header_map
        width = len(header_map.headers)
        with self._open() as fh:
            reader = csv.reader(fh)
            # reader.line_num is the line a row *ends* on; a row starts one after the previous
            # row ended, which keeps numbers right for quoted fields spanning several lines.
            end = 0
            while True:
                start = end + 1
                try:
                    row = next(reader, None)
                except csv.Error as error:
                    raise CsvFormatError(self.source, start, str(error)) from None
                if row is None:
                    return
                end = reader.line_num
                if start == 1 or not any(cell.strip() for cell in row):
                    continue
                if len(row) > width and any(cell.strip() for cell in row[width:]):
                    yield Reject(
                        self.source,
                        start,
                        "row",
                        f"row has {len(row)} cells but the header has {width}",
                        "",
                        self._raw(row),
                    )
                    continue
                yield RawRow(start, header_map.values(row), row)

    def __iter__(self) -> Iterator[Card | Reject]:
        self.cards = self.rejects = 0
        for item in self.rows():
            if isinstance(item, Reject):
                self.rejects += 1
                yield item
                continue
            result = validate_row(item.values, source=self.source, line=item.line)
            if isinstance(result, Reject):
                self.rejects += 1
                yield dataclasses.replace(result, raw=self._raw(item.cells))
            else:
                self.cards += 1
                yield result


def read_cards(path: Path | str, *, source_name: str | None = None) -> Iterator[Card | Reject]:
    """Cards and rejects of a CSV file in file order; encoding and header errors raise at once."""
    return iter(CardFile(path, source_name=source_name))
