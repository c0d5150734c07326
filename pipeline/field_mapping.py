"""The field mapping as data: which person value goes to which Salesforce field, and its rules.

config/field_mapping.py reads the TOML file; this module decides what a valid mapping is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.errors import BadInputError
from pipeline.models import PERSON_FIELDS

DERIVED_VALUES: tuple[str, ...] = (
    "street_with_building",
    "company_display",
    "exchange_date",
    "card_ids",
)
KNOWN_VALUES = frozenset(PERSON_FIELDS) | frozenset(DERIVED_VALUES)
# Fields cardsync sets itself; a mapping that names them would fight the owner and Account rules.
RESERVED_FIELDS = frozenset({"Id", "OwnerId", "AccountId", "Account", "Owner"})
# Salesforce field names are case-insensitive: `ownerid` sets OwnerId all the same.
_RESERVED_KEYS = frozenset(name.casefold() for name in RESERVED_FIELDS)
REQUIRED_OBJECTS = ("Contact", "Account")


class FieldMappingError(BadInputError, ValueError):
    """The mapping file names an unknown value or a reserved field."""


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Salesforce field -> person value, per sObject, in file order."""

    targets: dict[str, tuple[tuple[str, str], ...]]

    def fields_for(self, sobject: str) -> tuple[tuple[str, str], ...]:
        return self.targets.get(sobject, ())


def build_field_mapping(tables: Mapping[str, object], *, source: str) -> FieldMapping:
    """The mapping from `{sobject: {Field: "value"}}`; every problem is named in one error."""
    targets: dict[str, tuple[tuple[str, str], ...]] = {}
    problems: list[str] = []
    for sobject, table in tables.items():
        if not isinstance(table, dict):
            problems.append(f'[{sobject}] must be a table of Field = "value"')
            continue
        pairs = []
        for sf_field, value in table.items():
            if sf_field.casefold() in _RESERVED_KEYS:
                problems.append(f"{sobject}.{sf_field}: set by cardsync itself, remove it")
            elif not isinstance(value, str) or value not in KNOWN_VALUES:
                problems.append(
                    f"{sobject}.{sf_field}: unknown value {value!r} "
                    f"(one of {', '.join(sorted(KNOWN_VALUES))})"
                )
            else:
                pairs.append((sf_field, value))
        targets[sobject] = tuple(pairs)
    if problems:
        raise FieldMappingError(f"{source}: " + "; ".join(problems))
    for required in REQUIRED_OBJECTS:
        if required not in targets:
            raise FieldMappingError(f"{source}: a [{required}] table is required")
    return FieldMapping(targets=targets)
