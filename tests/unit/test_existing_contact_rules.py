"""Whether a new person is a Contact the org already has, and what a reviewer sees (plain data)."""

from pipeline.existing import (
    ExistingMatch,
    ambiguous_account_match,
    links_wanted,
    match_existing_contact,
    name_key,
    needs_review_entry,
    review_notes,
)
from pipeline.models import Person


def person(key: str = "P1", **values: str) -> Person:
    return Person(
        person_key=key,
        card_ids=("C1", "C2"),
        values={"last_name": "山田", "first_name": "太郎", **values},
        owner_id="U1",
        owner_name="",
        owner_email="",
        exchange_date="2024-01-10",
    )


def test_one_contact_with_the_same_email_is_linked_whatever_the_case():
    by_email = {"taro.yamada@sample.co.jp": ["003A"]}
    found = match_existing_contact(
        person(email="Taro.Yamada@Sample.co.jp"), "", by_email, by_name={}
    )
    assert found == ExistingMatch("link", ("003A",), "email")


def test_two_contacts_with_the_same_email_go_to_review():
    by_email = {"shared@osaka.co.jp": ["003B", "003A", "003B"]}
    found = match_existing_contact(person(email="shared@osaka.co.jp"), "", by_email, {})
    assert found == ExistingMatch("needs_review", ("003A", "003B"), "email")


def test_without_an_email_match_the_name_at_the_persons_existing_account_links():
    by_name = {name_key("山田", "太郎", "001A"): ["003C"]}
    found = match_existing_contact(person(email="new@sample.co.jp"), "001A", {}, by_name)
    assert found == ExistingMatch("link", ("003C",), "name_and_account")


def test_a_name_alone_without_an_existing_account_matches_nothing():
    by_name = {name_key("山田", "太郎", ""): ["003C"]}
    assert match_existing_contact(person(), "", {}, by_name) is None


def test_the_email_decides_before_the_name():
    by_email = {"t@x.jp": ["003E"]}
    by_name = {name_key("山田", "太郎", "001A"): ["003N"]}
    found = match_existing_contact(person(email="t@x.jp"), "001A", by_email, by_name)
    assert found == ExistingMatch("link", ("003E",), "email")


def test_name_keys_ignore_spaces_and_width():
    assert name_key("山田 ", "太郎", "001A") == name_key("山田", "太郎", "001A")
    assert name_key("ＹＡＭＡＤＡ", "", "001A") == name_key("yamada", "", "001A")


def test_only_single_candidates_are_links_to_claim():
    matches = {
        "P1": ExistingMatch("link", ("003A",), "email"),
        "P2": ExistingMatch("needs_review", ("003B", "003C"), "email"),
    }
    assert links_wanted(matches) == {"003A": "P1"}


def test_after_linking_review_holds_several_candidates_lost_claims_and_failed_stamps():
    matches = {
        "P1": ExistingMatch("link", ("003A",), "email"),  # claimed and stamped
        "P2": ExistingMatch("needs_review", ("003B", "003C"), "email"),
        "P3": ExistingMatch("link", ("003D",), "email"),  # another person claimed it first
        "P4": ExistingMatch("link", ("003E",), "name_and_account"),  # the stamp failed
    }
    notes = review_notes(
        matches, claimed={"003A", "003E"}, failures={"003E": "INVALID_FIELD_FOR_INSERT_UPDATE"}
    )
    assert notes == {
        "P2": "",
        "P3": "linked to another person",
        "P4": "link failed: INVALID_FIELD_FOR_INSERT_UPDATE",
    }


def test_a_review_entry_names_the_candidates_the_reason_and_the_person():
    entry = needs_review_entry(
        ambiguous_account_match(["001A", "001B"]),
        person(email="t@x.jp", company_name="ダブル(株)"),
        note="",
        at=1700000000.0,
    )
    assert entry == {
        "candidates": ["001A", "001B"],
        "reason": "account",
        "note": "",
        "email": "t@x.jp",
        "name": "山田 太郎",
        "company": "ダブル(株)",
        "card_ids": ["C1", "C2"],
        "at": 1700000000.0,
    }
