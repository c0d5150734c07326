"""Name-merge (名寄せ) rules: which keys make two cards one person, which values survive."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from pipeline.models import PERSON_FIELDS, Card, Person
from pipeline.normalize import normalize_company, normalize_email, normalize_name


def match_keys(card: Card) -> list[str]:
    """Keys under which this card joins a person: any shared key means the same person.

    Foundation rule: the same normalized email, or the same normalized full name at the same
    normalized company. Sansan's own person id joins cards directly.
    """
    keys: list[str] = []
    if card.person_id:
        keys.append("pid:" + card.person_id)
    email = normalize_email(card.email)
    if email:
        keys.append("em:" + email)
    name = normalize_name(card.last_name, card.first_name)
    company = normalize_company(card.company_name).key
    if name and company:
        keys.append("nc:" + name + "|" + company)
    return keys


def new_person_key(first_card_id: str) -> str:
    """Stable person key from the card that founded the person, so replays find the same key."""
    return "P" + hashlib.sha1(first_card_id.encode("utf-8")).hexdigest()[:20]


def _newest_first(cards: Iterable[Card]) -> list[Card]:
    # Latest exchange date wins; ties go to the later card id so the order is total and replayable.
    return sorted(cards, key=lambda c: (c.exchange_date, c.card_id), reverse=True)


def build_person(person_key: str, cards: Sequence[Card]) -> Person:
    """Survivorship: for each field, the newest card (exchange date) with a non-blank value wins."""
    if not cards:
        raise ValueError(f"person {person_key} has no cards")
    ordered = _newest_first(cards)
    values: dict[str, str] = {}
    for field_name in PERSON_FIELDS:
        for card in ordered:
            value = getattr(card, field_name)
            if value:
                values[field_name] = value
                break
    newest = ordered[0]
    return Person(
        person_key=person_key,
        card_ids=tuple(sorted(c.card_id for c in cards)),
        values=values,
        owner_id=newest.owner_id,
        owner_name=newest.owner_name,
        owner_email=newest.owner_email,
        exchange_date=newest.exchange_date,
    )
