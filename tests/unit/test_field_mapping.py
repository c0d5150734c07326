"""Specification of the field mapping: the TOML that says which value goes to which field."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from config.field_mapping import load_field_mapping, parse_field_mapping
from config.settings import DEFAULT_FIELD_MAPPING
from pipeline.field_mapping import (
    DERIVED_VALUES,
    KNOWN_VALUES,
    RESERVED_FIELDS,
    FieldMapping,
    FieldMappingError,
)
from pipeline.models import PERSON_FIELDS

MINIMAL = '[Contact]\nLastName = "last_name"\n\n[Account]\nName = "company_display"\n'

_counter = itertools.count()


def mapping_file(tmp_path: Path, text: str) -> Path:
    # load_field_mapping caches by path: every test file gets a path of its own.
    path = tmp_path / f"mapping-{next(_counter)}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_mapping_file_parses() -> None:
    mapping = load_field_mapping(DEFAULT_FIELD_MAPPING)
    contact = dict(mapping.fields_for("Contact"))
    account = dict(mapping.fields_for("Account"))
    assert contact["LastName"] == "last_name"
    assert contact["Email"] == "email"
    assert contact["MailingStreet"] == "street_with_building"
    assert account["Name"] == "company_display"
    assert not RESERVED_FIELDS & (contact.keys() | account.keys())
    assert set(contact.values()) | set(account.values()) <= KNOWN_VALUES


def test_fields_keep_file_order() -> None:
    mapping = parse_field_mapping(
        '[Contact]\nTitle = "title"\nLastName = "last_name"\nEmail = "email"\n'
        '[Account]\nName = "company_display"\n'
    )
    assert mapping.fields_for("Contact") == (
        ("Title", "title"),
        ("LastName", "last_name"),
        ("Email", "email"),
    )


def test_unmapped_sobject_has_no_fields() -> None:
    assert parse_field_mapping(MINIMAL).fields_for("Lead") == ()


def test_every_person_field_and_derived_value_is_accepted() -> None:
    values = list(PERSON_FIELDS) + list(DERIVED_VALUES)
    contact = "\n".join(f'F{i}__c = "{value}"' for i, value in enumerate(values))
    mapping = parse_field_mapping(f"[Contact]\n{contact}\n[Account]\n")
    assert [value for _, value in mapping.fields_for("Contact")] == values


def test_empty_tables_are_allowed() -> None:
    mapping = parse_field_mapping("[Contact]\n[Account]\n")
    assert mapping == FieldMapping(targets={"Contact": (), "Account": ()})


def test_load_reads_a_file(tmp_path: Path) -> None:
    mapping = load_field_mapping(mapping_file(tmp_path, MINIMAL))
    assert mapping.fields_for("Contact") == (("LastName", "last_name"),)


def test_unknown_value_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, MINIMAL + 'Phone = "telephone"\n')
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    assert "Account.Phone" in message
    assert "'telephone'" in message
    assert "company_display" in message  # the choices are listed


def test_non_string_value_is_unknown(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, "[Contact]\nLastName = 3\n[Account]\n")
    with pytest.raises(FieldMappingError, match=r"Contact\.LastName: unknown value 3"):
        load_field_mapping(path)


@pytest.mark.parametrize("field", ["OwnerId", "AccountId", "Id"])
def test_reserved_field_names_the_file_and_the_key(tmp_path: Path, field: str) -> None:
    path = mapping_file(tmp_path, f'[Contact]\n{field} = "email"\n[Account]\n')
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"Contact.{field}" in message
    assert "set by cardsync" in message


@pytest.mark.parametrize("field", ["ownerid", "OWNERID", "accountId"])
def test_reserved_fields_are_matched_case_insensitively(field: str) -> None:
    # Salesforce field names are case-insensitive: `ownerid` would set OwnerId all the same.
    with pytest.raises(FieldMappingError, match=f"Contact.{field}: set by cardsync"):
        parse_field_mapping(f'[Contact]\n{field} = "email"\n[Account]\n', source="m.toml")


def test_every_problem_is_reported_at_once() -> None:
    text = '[Contact]\nOwnerId = "email"\nPhone = "nope"\n[Account]\nAccountId = "url"\n'
    with pytest.raises(FieldMappingError) as caught:
        parse_field_mapping(text, source="m.toml")
    message = str(caught.value)
    assert message.startswith("m.toml: ")
    for key in ("Contact.OwnerId", "Contact.Phone", "Account.AccountId"):
        assert key in message


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = mapping_file(tmp_path, '[Contact]\nLastName = "last_name\n[Account]\n')
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "line 2" in message


@pytest.mark.parametrize("missing", ["Contact", "Account"])
def test_missing_required_table_names_the_file_and_the_table(tmp_path: Path, missing: str) -> None:
    present = "Account" if missing == "Contact" else "Contact"
    path = mapping_file(tmp_path, f"[{present}]\n")
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"[{missing}]" in message


def test_top_level_value_must_be_a_table() -> None:
    with pytest.raises(FieldMappingError, match=r"m\.toml: \[Contact\] must be a table"):
        parse_field_mapping('Contact = "email"\n[Account]\n', source="m.toml")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    assert str(path) in str(caught.value)


def test_field_mapping_error_is_a_value_error() -> None:
    assert issubclass(FieldMappingError, ValueError)
