"""Card sequences for name-merge tests: the demo generator's, and dense namesake/conflict cases."""

from __future__ import annotations

import random

from demo.synthetic import SANSAN_HEADERS, generate_cards
from pipeline.headers import map_headers
from pipeline.models import Card
from pipeline.validation import validate_row


def generated_cards(n: int, seed: int) -> list[Card]:
    """The demo generator's rows, validated as the CSV reader would (it makes no invalid rows)."""
    header_map = map_headers(list(SANSAN_HEADERS))
    out = []
    for line, row in enumerate(generate_cards(n, seed=seed), start=2):
        values = header_map.values([row.get(h, "") for h in header_map.headers])
        outcome = validate_row(values, source="t.csv", line=line)
        assert isinstance(outcome, Card)
        out.append(outcome)
    return out


# Few names, two offices whose cards all carry the main line, few e-mails and mobiles: nearly
# every card meets namesakes through company keys, and facts often contradict.
_NAMES = (
    {
        "last_name": "山田",
        "first_name": "太郎",
        "last_name_reading": "ヤマダ",
        "first_name_reading": "タロウ",
    },
    {"last_name": "山田", "first_name": "花子"},
    {
        "last_name": "",
        "first_name": "",
        "last_name_reading": "ヤマダ",
        "first_name_reading": "タロウ",
    },
)
_OFFICES = (
    {
        "company_name": "株式会社サンプル",
        "prefecture": "東京都",
        "street": "港区芝1-2-3",
        "url": "https://www.sample.co.jp/",
    },
    {"company_name": "サンプル(株)", "prefecture": "東京都", "street": "港区芝1丁目2番3号"},
    {"company_name": "別会社株式会社", "url": "https://betsu.jp/"},
)
_MAIN_LINES = ("03-1111-0000", "06-2222-0000")
_DIRECT_LINES = ("03-1111-0001", "03-1111-0002")
_MOBILES = ("090-1111-1111", "09022222222", "080-3333-3333", "070-4444-4444")


def namesake_cards(n: int, seed: int) -> list[Card]:
    """n cards of a few namesakes at a few offices; about a fifth are replays of earlier cards.

    A replay sends an earlier card id again, as it was or with other contact data (so the card
    meets its earlier assignment under new keys).
    """
    rng = random.Random(seed)
    cards: list[Card] = []
    for i in range(n):
        if cards and rng.random() < 0.2:
            earlier = rng.choice(cards)
            if rng.random() < 0.75:
                cards.append(earlier)
                continue
            cards.append(_namesake_card(rng, earlier.card_id))
            continue
        cards.append(_namesake_card(rng, f"C{i}"))
    return cards


def _namesake_card(rng: random.Random, card_id: str) -> Card:
    values: dict[str, str] = {**rng.choice(_NAMES), "owner_id": "U1"}
    if rng.random() < 0.85:
        values.update(rng.choice(_OFFICES))
    if rng.random() < 0.45:
        values["email"] = rng.choice(("t1@x.jp", "T2@x.jp", "t3@x.jp", "t4@x.jp", "info@x.jp"))
    if rng.random() < 0.35:
        values["mobile"] = rng.choice(_MOBILES)
    if rng.random() < 0.5:
        values["tel"] = rng.choice(_MAIN_LINES + _DIRECT_LINES + _MOBILES[:1])
    if rng.random() < 0.02:
        values["person_id"] = rng.choice(("S1", "S2", "S3"))
    return Card(card_id=card_id, **values)


def hand_built_conflicts() -> list[Card]:
    """Named namesake cases, each under its own name, joined one after the other.

    Namesakes with other e-mails, mobiles or direct lines; an e-mail-only person met by a
    mobile-only card; a fact-less card between namesakes (ambiguous) and one after it; a card
    whose strong person is settled while company keys show contradicting namesakes; a job change
    followed by namesakes at the new and the old company.
    """
    office = {"company_name": "株式会社サンプル", "prefecture": "東京都", "street": "港区芝1-2-3"}
    web = {"company_name": "株式会社サンプル", "url": "https://sample.co.jp"}
    both = {**office, **web}

    def case(name: str, *rows: dict[str, str]) -> list[Card]:
        person = {"last_name": name, "first_name": "太郎", "owner_id": "U1"}
        return [Card(card_id=f"{name}-{i}", **{**person, **row}) for i, row in enumerate(rows)]

    return [
        *case("一", {**office, "email": "a@x.jp"}, {**office, "email": "b@x.jp"}, office, office),
        *case("二", {**office, "mobile": "090-1111-1111"}, {**office, "mobile": "09022222222"}),
        *case("三", {**office, "email": "a@x.jp"}, {**office, "mobile": "090-1111-1111"}),
        *case(
            "四",
            {**office, "email": "a@x.jp"},
            {**web, "tel": "03-1111-0001"},
            {**web, "tel": "03-1111-0002"},
            {**both, "email": "a@x.jp"},  # settled by its e-mail; the web namesakes conflict
            {**both},  # fact-less: ambiguous between them all
        ),
        *case(
            "五",
            {"email": "old@x.jp", "mobile": "090-3333-3333", "company_name": "旧商事"},
            {"email": "new@x.jp", "mobile": "09033333333", "company_name": "新システム"},
            {**office, "email": "other@x.jp"},
            {**office, "email": "new@x.jp"},
        ),
    ]
