"""Read the field mapping file (TOML) into pipeline's FieldMapping."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pipeline.field_mapping import FieldMapping, FieldMappingError, build_field_mapping


def parse_field_mapping(text: str, *, source: str = "<string>") -> FieldMapping:
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FieldMappingError(f"{source}: not valid TOML: {error}") from None
    return build_field_mapping(tables, source=source)


@lru_cache(maxsize=8)
def load_field_mapping(path: Path) -> FieldMapping:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FieldMappingError(f"cannot read field mapping {path}: {error.strerror}") from None
    return parse_field_mapping(text, source=str(path))
