"""Name-merge keys and survivorship, on plain cards."""

from pipeline.merge import build_person, match_keys, new_person_key
from pipeline.models import Card


def card(card_id: str, **values: str) -> Card:
    base = {"last_name": "山田", "first_name": "太郎", "company_name": "株式会社サンプル"}
    base.update(values)
    return Card(card_id=card_id, **base)


def shares_key(a: Card, b: Card) -> bool:
    return bool(set(match_keys(a)) & set(match_keys(b)))


def test_same_name_and_email_in_any_case_share_a_key():
    assert shares_key(card("1", email="Taro@Sample.co.jp"), card("2", email="taro@sample.co.jp "))


def test_same_name_company_and_address_across_legal_form_spellings_share_a_key():
    a = card("1", company_name="株式会社サンプル", prefecture="東京都", street="港区芝1-2-3")
    b = card("2", company_name="サンプル(株)", last_name="山田 ", street="東京都港区芝1丁目2番3号")
    assert shares_key(a, b)


def test_different_name_at_same_company_without_email_is_another_person():
    assert not shares_key(card("1", first_name="太郎"), card("2", first_name="花子"))


def test_sansan_person_id_joins_cards_directly():
    assert shares_key(
        card("1", person_id="P1", last_name="A"), card("2", person_id="P1", last_name="B")
    )


def test_person_key_is_stable_for_the_founding_card():
    assert new_person_key("C1") == new_person_key("C1") != new_person_key("C2")


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
