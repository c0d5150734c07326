"""Specification of pipeline.validation: which rows become cards, which are rejected and why."""

from __future__ import annotations

import pytest

from pipeline.models import Card, Reject
from pipeline.validation import MAX_LENGTHS, parse_date, split_tags, validate_row


def good_row(**changes: str) -> dict[str, str]:
    row = {
        "card_id": "C001",
        "owner_id": "U0001",
        "owner_email": "tanaka@example.co.jp",
        "company_name": "株式会社サンプル",
        "department": "営業部",
        "title": "部長",
        "last_name": "山田",
        "first_name": "太郎",
        "email": "taro.yamada@example.co.jp",
        "tel": "03-1234-5678",
        "street": "千代田区丸の内1-2-3",
        "exchange_date": "2024/05/01",
    }
    row.update(changes)
    return row


def check(row: dict[str, str], line: int = 7) -> Card | Reject:
    return validate_row(row, source="cards.csv", line=line)


def rejected(row: dict[str, str], line: int = 7) -> Reject:
    result = check(row, line)
    assert isinstance(result, Reject), result
    assert result.source == "cards.csv"
    assert result.line == line
    return result


def test_a_good_row_becomes_a_card_with_source_and_line():
    card = check(good_row())
    assert isinstance(card, Card)
    assert card.card_id == "C001"
    assert card.last_name == "山田"
    assert card.exchange_date == "2024-05-01"
    assert (card.source, card.line) == ("cards.csv", 7)


def test_no_name_and_no_company_is_rejected_on_last_name():
    reject = rejected(good_row(last_name="", first_name="", company_name=""))
    assert reject.field == "last_name"
    assert "no name and no company" in reject.reason


@pytest.mark.parametrize("changes", [{"last_name": ""}, {"last_name": "", "company_name": ""}])
def test_missing_last_name_is_rejected_because_salesforce_requires_it(changes: dict[str, str]):
    reject = rejected(good_row(**changes))
    assert reject.field == "last_name"
    assert "missing last name" in reject.reason


def test_company_alone_with_a_last_name_is_enough():
    assert isinstance(check(good_row(first_name="", company_name="")), Card)


def test_missing_owner_is_rejected_on_owner_id():
    reject = rejected(good_row(owner_id="", owner_email=""))
    assert reject.field == "owner_id"
    assert "owner" in reject.reason


@pytest.mark.parametrize(
    "owner",
    [{"owner_id": "", "owner_email": "a@example.jp"}, {"owner_id": "U1", "owner_email": ""}],
)
def test_either_owner_column_is_enough(owner: dict[str, str]):
    assert isinstance(check(good_row(**owner)), Card)


@pytest.mark.parametrize(
    "email",
    [
        "taro@@example",
        "taro",
        "@example.com",
        "taro@example",
        "taro yamada@example.com",
        "taro@exa mple.com",
        "taro@example..com",
        "taro@.example.com",
        "a@b@example.com",
    ],
)
def test_malformed_email_is_rejected_with_the_address_in_the_reason(email: str):
    reject = rejected(good_row(email=email))
    assert reject.field == "email"
    assert reject.reason == f"malformed email address {email.strip()!r}"


@pytest.mark.parametrize(
    "email", ["taro@example.co.jp", "Taro.Yamada+jp@Example.COM", "t_y-1@sub.example.jp"]
)
def test_pragmatic_emails_pass(email: str):
    card = check(good_row(email=email))
    assert isinstance(card, Card)
    assert card.email == email


def test_full_width_email_is_folded_to_ascii():
    card = check(good_row(email="ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ"))
    assert isinstance(card, Card)
    assert card.email == "taro@example.co.jp"


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-05-01", "2024-05-01"),
        ("2024/05/01", "2024-05-01"),
        ("2024/5/1", "2024-05-01"),
        ("2024-5-1", "2024-05-01"),
        ("2024年5月1日", "2024-05-01"),
        ("２０２４年５月１日", "2024-05-01"),
        ("2024-05-01T10:30:00", "2024-05-01"),
        ("2024-05-01T10:30:00+09:00", "2024-05-01"),
        ("2024-05-01T23:30:00.123Z", "2024-05-01"),
        ("2024/05/01 10:30", "2024-05-01"),
        ("20240501", "2024-05-01"),
    ],
)
def test_exchange_dates_in_common_spellings_become_iso(raw: str, iso: str):
    assert parse_date(raw) == iso
    card = check(good_row(exchange_date=raw))
    assert isinstance(card, Card)
    assert card.exchange_date == iso


@pytest.mark.parametrize("raw", ["2023/13/45", "2023-02-30", "昨日", "12/05", "2024/05", "May 1"])
def test_unparseable_exchange_date_is_rejected(raw: str):
    reject = rejected(good_row(exchange_date=raw))
    assert reject.field == "exchange_date"
    assert repr(raw) in reject.reason


def _value_of_length(field_name: str, length: int) -> str:
    if field_name == "email":
        return "a" * (length - len("@example.jp")) + "@example.jp"
    return "あ" * length


@pytest.mark.parametrize(("field_name", "limit"), sorted(MAX_LENGTHS.items()))
def test_a_field_longer_than_salesforce_allows_is_rejected(field_name: str, limit: int):
    at_limit = check(good_row(**{field_name: _value_of_length(field_name, limit)}))
    assert isinstance(at_limit, Card)
    reject = rejected(good_row(**{field_name: _value_of_length(field_name, limit + 1)}))
    assert reject.field == field_name
    assert str(limit) in reject.reason and str(limit + 1) in reject.reason


def test_salesforce_length_table_has_the_documented_limits():
    assert MAX_LENGTHS["last_name"] == 80
    assert MAX_LENGTHS["first_name"] == 40
    assert MAX_LENGTHS["email"] == 80
    assert MAX_LENGTHS["tel"] == MAX_LENGTHS["mobile"] == MAX_LENGTHS["fax"] == 40
    assert MAX_LENGTHS["title"] == 128
    assert MAX_LENGTHS["department"] == 80
    assert MAX_LENGTHS["company_name"] == 255
    assert MAX_LENGTHS["postal_code"] == 20
    assert MAX_LENGTHS["prefecture"] == 80
    assert MAX_LENGTHS["city"] == 40
    assert MAX_LENGTHS["street"] == MAX_LENGTHS["building"] == 255


@pytest.mark.parametrize(
    "char", ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
)
def test_control_characters_are_rejected_naming_the_field(char: str):
    reject = rejected(good_row(title=f"部{char}長"))
    assert reject.field == "title"
    assert f"U+{ord(char):04X}" in reject.reason


def test_line_breaks_are_kept_in_the_street_as_one_line_feed_each():
    card = check(good_row(street="千代田区丸の内1-2-3\r\n  サンプルビル 5F "))
    assert isinstance(card, Card)
    assert card.street == "千代田区丸の内1-2-3\nサンプルビル 5F"
    card = check(good_row(street="東京都\r千代田区\n\n丸の内"))
    assert isinstance(card, Card)
    assert card.street == "東京都\n千代田区\n丸の内"


@pytest.mark.parametrize("field_name", ["department", "company_name", "title", "first_name"])
@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", " \n\u3000"])
def test_a_line_break_in_a_one_line_field_is_folded_to_one_space(field_name: str, line_break: str):
    card = check(good_row(**{field_name: f"営業本部{line_break}第一課"}))
    assert isinstance(card, Card), card
    assert getattr(card, field_name) == "営業本部 第一課"


def test_a_line_break_is_never_a_reject_even_at_the_ends_or_repeated():
    card = check(good_row(department="\n営業部\n\n\n第一課\r\n", title="\r\n部長"))
    assert isinstance(card, Card), card
    assert (card.department, card.title) == ("営業部 第一課", "部長")


def test_a_folded_line_break_counts_as_one_character_toward_the_length_limit():
    assert isinstance(check(good_row(department="部" * 40 + "\r\n" + "課" * 39)), Card)
    reject = rejected(good_row(department="部" * 40 + "\r\n" + "課" * 40))
    assert reject.field == "department"
    assert "81 characters" in reject.reason


def test_tabs_are_allowed_and_folded():
    card = check(good_row(department="営業部\t第一課"))
    assert isinstance(card, Card)
    assert card.department == "営業部 第一課"


def test_text_is_trimmed_and_inner_space_runs_folded_but_otherwise_kept():
    card = check(
        good_row(
            last_name="  山田 ",
            company_name="株式会社　サンプル",
            department="営業部   第一課",
            title="ＳＥ",
        )
    )
    assert isinstance(card, Card)
    assert card.last_name == "山田"
    assert card.company_name == "株式会社\u3000サンプル"  # display text: not NFKC'd
    assert card.department == "営業部 第一課"
    assert card.title == "ＳＥ"


def test_blank_fields_are_empty_strings():
    card = check({"owner_id": "U1", "last_name": "山田"})
    assert isinstance(card, Card)
    assert card.email == card.tel == card.exchange_date == ""
    assert card.tags == ()


def test_the_first_problem_in_a_fixed_order_wins():
    # control characters, then name/company, owner, email, date, lengths.
    row = good_row(email="bad@@x", exchange_date="nope", title="x" * 200)
    assert rejected(row).field == "email"
    row = good_row(exchange_date="nope", title="x" * 200)
    assert rejected(row).field == "exchange_date"
    row = good_row(last_name="", email="bad@@x", department="a\x07")
    assert rejected(row).field == "department"


def test_reject_keeps_the_card_id_and_raw_row():
    row = good_row(email="taro@@example")
    reject = rejected(row)
    assert reject.card_id == "C001"
    assert reject.raw == row
    custom = validate_row(row, source="s", line=3, raw={"メールアドレス": "taro@@example"})
    assert isinstance(custom, Reject)
    assert custom.raw == {"メールアドレス": "taro@@example"}


def test_card_without_id_gets_a_stable_content_hash_id():
    first = check(good_row(card_id=""))
    again = check(good_row(card_id=""), line=99)
    other = check(good_row(card_id="", email="other@example.co.jp"))
    assert isinstance(first, Card) and isinstance(again, Card) and isinstance(other, Card)
    assert first.card_id.startswith("h-")
    assert len(first.card_id) == 22
    assert first.card_id == again.card_id  # the line is not content
    assert first.card_id != other.card_id


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ("展示会;セミナー", ("展示会", "セミナー")),
        ("展示会, セミナー", ("展示会", "セミナー")),
        ("展示会、セミナー", ("展示会", "セミナー")),
        ("展示会|セミナー|", ("展示会", "セミナー")),
        (" ; ;展示会 ", ("展示会",)),
        ("", ()),
        (["展示会", " ", "セミナー "], ("展示会", "セミナー")),
    ],
)
def test_tags_are_split_on_common_separators_and_blanks_dropped(
    raw: str | list[str], tags: tuple[str, ...]
):
    assert split_tags(raw) == tags
    card = validate_row({**good_row(), "tags": raw}, source="api", line=0)
    assert isinstance(card, Card)
    assert card.tags == tags
