"""Name-merge rules: match keys and survivorship on plain cards, conflicts and unions in the index.

The join tests run the person index's Lua on fakeredis; tests/unit/test_person_join.py tests the
same rules on plain data, and test_person_join_twin.py holds the two to the same answers.
"""

from __future__ import annotations

import fakeredis
import pytest

from pipeline.merge import build_person, identity_facts, is_company_key, match_keys, new_person_key
from pipeline.models import Card
from tests.unit.sample_cards import generated_cards
from workers.state.keys import Keys
from workers.state.person_index import PersonIndex

OFFICE = {
    "company_name": "株式会社サンプル",
    "prefecture": "東京都",
    "street": "港区芝1-2-3",
    "url": "https://www.sample.co.jp/",
}


def card(card_id: str, **values: str) -> Card:
    base = {"last_name": "山田", "first_name": "太郎", "owner_id": "U1"}
    base.update(values)
    return Card(card_id=card_id, **base)


def shared(a: Card, b: Card) -> set[str]:
    return set(match_keys(a)) & set(match_keys(b))


@pytest.fixture()
def index() -> PersonIndex:
    return PersonIndex(fakeredis.FakeRedis(decode_responses=True), Keys("t"))


def person_of(index: PersonIndex, *cards: Card) -> list[str]:
    return [r.person_key for r in index.join(list(cards), "i1")]


# --- match keys: what counts as evidence -------------------------------------------------------


def test_same_name_and_email_in_any_case_share_a_key():
    assert shared(card("1", email="Taro@Sample.co.jp"), card("2", email="taro@sample.co.jp "))


def test_same_name_company_and_address_across_legal_form_spellings_share_a_key():
    a = card("1", company_name="株式会社サンプル", prefecture="東京都", street="港区芝1-2-3")
    b = card("2", company_name="サンプル(株)", last_name="山田 ", street="東京都港区芝1丁目2番3号")
    assert shared(a, b)


def test_different_name_at_same_company_without_email_is_another_person():
    company = {"company_name": "株式会社サンプル"}
    assert not shared(
        card("1", first_name="太郎", **company), card("2", first_name="花子", **company)
    )


def test_sansan_person_id_joins_cards_directly():
    assert shared(
        card("1", person_id="P1", last_name="A"), card("2", person_id="P1", last_name="B")
    )


def test_person_key_is_stable_for_the_founding_card():
    assert new_person_key("C1") == new_person_key("C1") != new_person_key("C2")


def test_name_alone_never_shares_a_key():
    assert not shared(card("1"), card("2"))


def test_name_and_company_alone_never_share_a_key():
    assert not shared(
        card("1", company_name="株式会社サンプル"), card("2", company_name="サンプル(株)")
    )


def test_a_shared_email_under_another_name_shares_no_key():
    assert not shared(card("1", email="t@x.jp"), card("2", last_name="佐藤", email="t@x.jp"))


def test_role_email_is_no_evidence_even_with_the_same_name():
    assert not shared(card("1", email="info@sample.co.jp"), card("2", email="INFO@sample.co.jp"))
    assert identity_facts(card("1", email="sales+jp@sample.co.jp")) == []


def test_same_name_and_personal_email_share_a_key_across_case_width_and_spaces():
    a = card("1", last_name="山田 太郎", first_name="", email="Taro.Yamada@Sample.co.jp")
    b = card("2", last_name="山田", first_name="太郎", email=" taro.yamada@sample.co.jp")
    assert any(k.startswith("em:") for k in shared(a, b))


def test_old_form_kanji_and_width_fold_into_one_name():
    a = card("1", last_name="髙﨑", email="t@x.jp")
    b = card("2", last_name="高崎", email="t@x.jp")
    assert shared(a, b)


def test_distinct_surnames_are_not_folded():
    assert not shared(
        card("1", last_name="斉藤", email="t@x.jp"), card("2", last_name="斎藤", email="t@x.jp")
    )


def test_same_name_and_mobile_in_any_format_share_a_key():
    for written in ("+81 90 1234 5678", "(090)1234-5678", "０９０－１２３４－５６７８"):
        a = card("1", mobile="090-1234-5678")
        b = card("2", mobile=written)
        assert any(k.startswith("mo:") for k in shared(a, b)), written


def test_a_fixed_line_in_the_mobile_field_is_not_a_mobile():
    keys = match_keys(card("1", mobile="03-1234-5678"))
    assert not any(k.startswith("mo:") for k in keys)


def test_a_mobile_in_the_tel_field_counts_as_mobile():
    assert shared(card("1", tel="090-1234-5678"), card("2", mobile="09012345678"))


@pytest.mark.parametrize(
    "evidence",
    [
        {"prefecture": "東京都", "street": "港区芝１－２－３"},
        {"prefecture": "東京都", "street": "港区芝1丁目2番3号"},
        {"url": "http://sample.co.jp"},
        {"tel": "03-1111-2222"},
    ],
)
def test_same_name_company_and_address_url_or_direct_phone_share_a_company_key(evidence):
    a = card("1", **{**OFFICE, "tel": "03-1111-2222"})
    b = card("2", company_name="サンプル（株） 東京支店", **evidence)
    keys = shared(a, b)
    assert keys and all(is_company_key(k) for k in keys)


def test_address_at_another_company_is_no_evidence():
    a = card("1", **OFFICE)
    b = card("2", **{**OFFICE, "company_name": "株式会社別会社"})
    assert not shared(a, b)


def test_reading_stands_in_for_a_missing_kanji_name():
    a = card("1", last_name_reading="ヤマダ", first_name_reading="タロウ", email="t@x.jp")
    b = card("2", last_name="", first_name="", last_name_reading="やまだ", first_name_reading="ﾀﾛｳ")
    b = Card(**{**b.to_dict(), "email": "T@x.jp", "tags": ()})
    assert shared(a, b)


def test_sansan_person_id_joins_directly():
    assert shared(card("1", person_id="S1"), card("2", last_name="別人", person_id="S1"))


# --- the join: conflicts, job changes, unions --------------------------------------------------


def test_namesakes_at_one_company_with_different_emails_are_two_persons(index):
    a, b = person_of(
        index,
        card("1", email="taro@sample.co.jp", **OFFICE),
        card("2", email="taro2@sample.co.jp", **OFFICE),
    )
    assert a != b


def test_namesakes_with_different_mobiles_are_two_persons(index):
    a, b = person_of(
        index,
        card("1", mobile="090-1111-1111", **OFFICE),
        card("2", mobile="090-2222-2222", **OFFICE),
    )
    assert a != b


def test_a_card_with_only_a_mobile_does_not_join_a_person_known_only_by_email(index):
    a, b = person_of(
        index, card("1", email="t@x.jp", **OFFICE), card("2", mobile="090-1111-1111", **OFFICE)
    )
    assert a != b


def test_a_card_without_email_joins_by_company_address(index):
    a, b = person_of(index, card("1", email="t@x.jp", **OFFICE), card("2", **OFFICE))
    assert a == b


def test_a_card_with_the_same_email_joins_despite_company_keys_to_a_namesake(index):
    first, namesake, again = person_of(
        index,
        card("1", email="t1@x.jp", **OFFICE),
        card("2", email="t2@x.jp", **OFFICE),
        card("3", email="t2@x.jp", **OFFICE),
    )
    assert first != namesake == again


def test_an_ambiguous_card_never_bridges_two_namesakes(index):
    one, two = person_of(
        index, card("1", email="t1@x.jp", **OFFICE), card("2", email="t2@x.jp", **OFFICE)
    )
    (blank,) = person_of(index, card("3", **OFFICE))
    assert blank not in (one, two)
    assert index.person_count(["1", "2", "3"]) == 3
    # the next card without e-mail joins the blank one rather than guessing between the two
    (again,) = person_of(index, card("4", **OFFICE))
    assert again == blank


def test_job_change_is_one_person_whose_company_is_the_newest_cards(index):
    old = card(
        "1",
        email="taro@old.co.jp",
        mobile="090-1234-5678",
        company_name="旧商事株式会社",
        exchange_date="2020-04-01",
    )
    new = card(
        "2",
        email="taro@new.co.jp",
        mobile="09012345678",
        company_name="株式会社新システム",
        exchange_date="2023-10-01",
    )
    a, b = person_of(index, new, old)
    assert a == b
    person = index.load([a])[a].person
    assert person.get("company_name") == "株式会社新システム"
    assert person.get("email") == "taro@new.co.jp"


def test_job_change_then_a_namesake_at_the_old_company_stays_apart(index):
    a, b = person_of(
        index,
        card("1", email="taro@sample.co.jp", mobile="090-1234-5678", **OFFICE),
        card("2", email="taro@new.co.jp", mobile="090-1234-5678", company_name="新会社"),
    )
    (namesake,) = person_of(index, card("3", email="other@sample.co.jp", **OFFICE))
    assert a == b != namesake


def test_person_id_joins_even_across_names_and_companies(index):
    a, b = person_of(index, card("1", person_id="S1"), card("2", person_id="S1", last_name="旧姓"))
    assert a == b


def test_union_moves_emails_so_a_later_namesake_is_still_refused(index):
    a = person_of(index, card("1", email="t1@x.jp"))[0]
    b = person_of(index, card("2", mobile="090-1111-1111", **OFFICE))[0]
    link = index.join([card("3", email="t1@x.jp", mobile="09011111111")], "i1")[0]
    assert link.person_key == a and link.merged_away == (b,)
    (namesake,) = person_of(index, card("4", email="t9@x.jp", **OFFICE))
    assert namesake != a


@pytest.mark.parametrize(
    "order", [(0, 1, 2), (2, 1, 0), (1, 0, 2), (1, 2, 0), (0, 2, 1), (2, 0, 1)]
)
def test_grouping_of_linked_cards_does_not_depend_on_order(order):
    cards = [
        card("1", email="t@x.jp"),
        card("2", mobile="090-1111-1111"),
        card("3", email="t@x.jp", mobile="090-1111-1111"),
    ]
    index = PersonIndex(fakeredis.FakeRedis(decode_responses=True), Keys("t"))
    index.join([cards[i] for i in order], "i1")
    assert index.person_count(["1", "2", "3"]) == 1


def test_survivorship_takes_each_field_from_the_newest_card_that_has_it():
    old = card(
        "1", exchange_date="2023-01-10", title="課長", tel="03-1111-1111", department="営業部"
    )
    new = card("2", exchange_date="2024-05-01", title="部長", tel="", department="")
    person = build_person("P", [new, old])
    assert person.get("title") == "部長"
    assert person.get("tel") == "03-1111-1111"
    assert person.get("department") == "営業部"
    assert person.exchange_date == "2024-05-01"
    assert person.card_ids == ("1", "2")


def test_newest_card_decides_the_owner():
    old = card("1", exchange_date="2023-01-10", owner_email="a@example.co.jp")
    new = card("2", exchange_date="2024-01-10", owner_email="b@example.co.jp")
    assert build_person("P", [old, new]).owner_email == "b@example.co.jp"


def test_survivorship_takes_the_newest_company_and_keeps_older_fields():
    old = card("1", company_name="旧商事", tel="03-1111-2222", exchange_date="2020-01-01")
    new = card("2", company_name="新システム", exchange_date="2024-01-01")
    person = build_person("P", [old, new])
    assert person.get("company_name") == "新システム"
    assert person.get("tel") == "03-1111-2222"


def test_replaying_a_card_does_not_pull_in_a_person_founded_by_an_ambiguous_card(index):
    person_of(index, card("1", email="t1@x.jp", **OFFICE), card("2", email="t2@x.jp", **OFFICE))
    (_blank,) = person_of(index, card("3", **OFFICE))
    replay = index.join([card("2", email="t2@x.jp", **OFFICE)], "i2")[0]
    assert not replay.changed and replay.merged_away == ()
    assert index.person_count(["1", "2", "3"]) == 3


def test_a_direct_phone_tells_namesakes_apart():
    a = card("1", tel="03-1111-1111", **OFFICE)
    b = card("2", tel="03-2222-2222", **OFFICE)
    index = PersonIndex(fakeredis.FakeRedis(decode_responses=True), Keys("t"))
    first, second = person_of(index, a, b)
    assert first != second


@pytest.mark.parametrize("shuffled", [False, True])
def test_replaying_a_whole_import_changes_no_person(shuffled):
    import random

    cards = generated_cards(1200, seed=21)
    index = PersonIndex(fakeredis.FakeRedis(decode_responses=True), Keys("t"))
    for start in range(0, len(cards), 200):
        index.join(cards[start : start + 200], "i1")
    before = index.person_count([c.card_id for c in cards])
    replay = list(cards)
    if shuffled:
        random.Random(1).shuffle(replay)
    changed = [r for r in index.join(replay, "i2") if r.changed or r.merged_away]
    assert changed == []
    assert index.person_count([c.card_id for c in cards]) == before


def test_replay_does_not_join_a_card_placed_apart_because_namesakes_share_its_main_line(index):
    line = {**OFFICE, "tel": "03-1111-0000"}  # the company's main line, on everyone's card
    person_of(index, card("1", email="t1@x.jp", **line))
    person_of(index, card("2", email="t2@x.jp", mobile="090-2222-2222", **line))
    (unclear,) = person_of(index, card("3", **line))
    replay = index.join([card("2", email="t2@x.jp", mobile="090-2222-2222", **line)], "i2")[0]
    assert not replay.changed and replay.merged_away == ()
    assert unclear != replay.person_key


def test_address_blocks_in_kanji_and_digits_fold_to_one_form():
    from pipeline.normalize import normalize_address

    assert (
        normalize_address("東京都", "", "港区芝1丁目2番3号")
        == normalize_address("東京都", "港区", "芝１－２－３")
        == "東京都港区芝1-2-3"
    )
    assert normalize_address("東京都", "", "港区芝1丁目2番地") == "東京都港区芝1-2"


@pytest.mark.parametrize(
    "written",
    [
        "03-1234-5678",
        "0312345678",
        "(03)1234-5678",
        "090 1234 5678",
        "０１２０－１２３－４５６",
        "010-1234-567",
        "011-234-5678",
        "+81 3 1234 5678",
        "03-1234-5678 内線 12",
    ],
)
def test_fast_domestic_phone_path_agrees_with_phonenumbers(written):
    import unicodedata

    import phonenumbers

    from pipeline.normalize import normalize_phone

    text = unicodedata.normalize("NFKC", written)
    try:
        number = phonenumbers.parse(text.replace("内線", "ext."), "JP")
        expected = (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_possible_number(number)
            else ""
        )
    except phonenumbers.NumberParseException:
        expected = ""
    assert normalize_phone(written) == expected
