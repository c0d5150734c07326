"""Name-merge (名寄せ) rules: which keys make two cards one person, which values survive."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from pipeline.models import PERSON_FIELDS, Card, Person
from pipeline.normalize import (
    is_mobile_number,
    is_role_email,
    normalize_address,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_reading,
    normalize_url_host,
)

# Match keys are "kind:identity|evidence". A strong key (Sansan person id, name + personal
# e-mail, name + mobile) always joins; a company key (name + company + address / URL host /
# direct phone) joins only when the personal e-mails of both sides do not contradict it.
PERSON_ID_KEY = "pid:"
EMAIL_KEY = "em:"
MOBILE_KEY = "mo:"
ADDRESS_KEY = "ad:"
URL_KEY = "ur:"
PHONE_KEY = "ph:"
STRONG_KEY_KINDS: tuple[str, ...] = (PERSON_ID_KEY, EMAIL_KEY, MOBILE_KEY)
COMPANY_KEY_KINDS: tuple[str, ...] = (ADDRESS_KEY, URL_KEY, PHONE_KEY)


def is_company_key(key: str) -> bool:
    """True for a key that only joins when personal e-mails do not conflict."""
    return key.startswith(COMPANY_KEY_KINDS)


def personal_emails(card: Card) -> list[str]:
    """The card's e-mail as a person's identity: normalized, never a role address (info@ ...)."""
    email = normalize_email(card.email)
    if not email or is_role_email(email):
        return []
    return [email]


def mobile_numbers(card: Card) -> list[str]:
    """E.164 numbers of the card that really are mobiles (the tel field sometimes holds one)."""
    numbers = (normalize_phone(card.mobile), normalize_phone(card.tel))
    return list(dict.fromkeys(n for n in numbers if is_mobile_number(n)))


def direct_phones(card: Card) -> list[str]:
    """The card's fixed-line number in E.164 (the tel field; a mobile there counts as mobile)."""
    phone = normalize_phone(card.tel)
    return [phone] if phone and not is_mobile_number(phone) else []


def identity_facts(card: Card) -> list[str]:
    """What tells two namesakes apart: "e:" personal e-mails, "m:" mobiles, "t:" direct phones.

    A company key joins a card to a person only if, for every kind both sides have, they share
    a value: the same name at the same company with other e-mails is another person.
    """
    return [
        *("e:" + email for email in personal_emails(card)),
        *("m:" + mobile for mobile in mobile_numbers(card)),
        *("t:" + phone for phone in direct_phones(card)),
    ]


def _identities(card: Card) -> tuple[str, str]:
    """(name identity, reading identity): "n:..." from the kanji name, "r:..." from the reading."""
    name = normalize_name(card.last_name, card.first_name)
    reading = normalize_reading(card.last_name_reading + card.first_name_reading)
    return ("n:" + name if name else ""), ("r:" + reading if reading else "")


def match_keys(card: Card) -> list[str]:
    """Keys under which this card joins a person (issue 3 rules).

    Same person when the normalized full name agrees (the reading stands in when a card has no
    kanji name) and at least one of: the same personal e-mail; the same mobile; the same company
    key and (the same address, URL host or direct phone). Sansan's person id joins directly.
    A name alone, a name and company alone, or a shared or role e-mail alone never join.
    Cards with a kanji name also carry reading keys for e-mail and mobile, so that a card
    without the kanji finds them; company keys by reading only come from such cards, because
    readings collide (裕子/優子 are both ユウコ) far more than full names.
    """
    keys: list[str] = []
    if card.person_id:
        keys.append(PERSON_ID_KEY + card.person_id)
    name, reading = _identities(card)
    if not name and not reading:
        return keys
    strong_ids = [i for i in (name, reading) if i]
    emails = personal_emails(card)
    mobiles = mobile_numbers(card)
    for identity in strong_ids:
        keys.extend(f"{EMAIL_KEY}{identity}|{email}" for email in emails)
        keys.extend(f"{MOBILE_KEY}{identity}|{mobile}" for mobile in mobiles)
    identity = name or reading
    company = normalize_company(card.company_name).key
    if company:
        address = normalize_address(card.prefecture, card.city, card.street)
        if address:
            keys.append(f"{ADDRESS_KEY}{identity}|{company}|{address}")
        host = normalize_url_host(card.url)
        if host:
            keys.append(f"{URL_KEY}{identity}|{company}|{host}")
        keys.extend(f"{PHONE_KEY}{identity}|{company}|{phone}" for phone in direct_phones(card))
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
