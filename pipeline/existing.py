"""Whether a new person is a Contact the org already has: link one, ask a human about several.

Email decides first, then the name at the person's existing Account. A person the rules cannot
place on one Contact is never guessed: it waits in review with what a human needs to decide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.models import Person
from pipeline.normalize import normalize_email, normalize_name


@dataclass(frozen=True, slots=True)
class ExistingMatch:
    action: str  # "link" (one candidate) or "needs_review" (several); the preview adds others
    target_ids: tuple[str, ...]
    reason: str  # "email", "name_and_account", or "account" (several Accounts are the company)


def name_key(last: str, first: str, account_id: str) -> str:
    """How a Contact is found by name: the normalized name at one Account."""
    return f"{normalize_name(last, first)}|{account_id}"


def person_name_key(person: Person, account_id: str) -> str:
    return name_key(person.get("last_name"), person.get("first_name"), account_id)


def match_existing_contact(
    person: Person,
    account_id: str,
    by_email: Mapping[str, list[str]],
    by_name: Mapping[str, list[str]],
) -> ExistingMatch | None:
    """Email first, then name at the person's existing Account; None when nothing matches."""
    email = normalize_email(person.get("email"))
    for reason, ids in (
        ("email", by_email.get(email, []) if email else []),
        (
            "name_and_account",
            by_name.get(person_name_key(person, account_id), []) if account_id else [],
        ),
    ):
        unique = tuple(sorted(set(ids)))
        if unique:
            return ExistingMatch("link" if len(unique) == 1 else "needs_review", unique, reason)
    return None


def links_wanted(matches: Mapping[str, ExistingMatch]) -> dict[str, str]:
    """Contact id -> person key, for each person with exactly one candidate."""
    return {m.target_ids[0]: pk for pk, m in matches.items() if m.action == "link"}


def review_notes(
    matches: Mapping[str, ExistingMatch],
    claimed: Collection[str],
    failures: Mapping[str, str],
) -> dict[str, str]:
    """person key -> note, for each person that must wait for a human after linking: several
    candidates (no note), a candidate another person claimed first, a stamp that failed."""
    notes: dict[str, str] = {}
    for person_key, match in matches.items():
        target = match.target_ids[0]
        if match.action == "needs_review":
            notes[person_key] = ""
        elif target not in claimed:
            notes[person_key] = "linked to another person"
        elif target in failures:
            notes[person_key] = f"link failed: {failures[target]}"
    return notes


def ambiguous_account_match(account_ids: Collection[str]) -> ExistingMatch:
    """Several existing Accounts are the person's company: which one is meant is unclear."""
    return ExistingMatch("needs_review", tuple(account_ids), "account")


def needs_review_entry(
    match: ExistingMatch, person: Person, *, note: str = "", at: float
) -> dict[str, Any]:
    """What a reviewer sees for a person held back: the candidates, why, and the person."""
    return {
        "candidates": list(match.target_ids),
        "reason": match.reason,
        "note": note,
        "email": person.get("email"),
        "name": f"{person.get('last_name')} {person.get('first_name')}".strip(),
        "company": person.get("company_name"),
        "card_ids": list(person.card_ids),
        "at": at,
    }
