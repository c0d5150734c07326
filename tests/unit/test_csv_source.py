"""Specification of pipeline.headers and workers.sources.csv_file: reading card files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from demo.synthetic import generate_cards, write_csv
from pipeline.headers import (
    OPEN_API,
    OPEN_API_HEADERS,
    SANSAN,
    SANSAN_HEADERS,
    MissingHeaderError,
    map_headers,
)
from pipeline.models import Card, Reject
from workers.sources.csv_file import CardFile, CsvFormatError, EncodingError, read_cards

HEADER = "名刺ID,名刺所有者ユーザID,会社名,氏名[姓],氏名[名],メールアドレス,住所,名刺交換日,タグ"


def write(tmp_path: Path, text: str, *, name: str = "cards.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def cards_of(path: Path, **kwargs: str) -> list[Card | Reject]:
    return list(read_cards(path, **kwargs))


# --- headers --------------------------------------------------------------------------------------


def test_sansan_headers_map_to_card_fields():
    header_map = map_headers(SANSAN_HEADERS, file="x.csv")
    assert header_map.style == SANSAN
    assert header_map.unknown == ()
    assert dict(zip(SANSAN_HEADERS, header_map.fields, strict=True)) == {
        "名刺ID": "card_id",
        "人物ID": "person_id",
        "名刺所有者ユーザID": "owner_id",
        "名刺所有者": "owner_name",
        "名刺所有者メールアドレス": "owner_email",
        "会社名": "company_name",
        "部署名": "department",
        "役職": "title",
        "氏名[姓]": "last_name",
        "氏名[名]": "first_name",
        "氏名カナ[姓]": "last_name_reading",
        "氏名カナ[名]": "first_name_reading",
        "メールアドレス": "email",
        "電話番号": "tel",
        "携帯電話": "mobile",
        "FAX": "fax",
        "URL": "url",
        "郵便番号": "postal_code",
        "都道府県": "prefecture",
        "住所": "street",
        "建物名": "building",
        "名刺交換日": "exchange_date",
        "タグ": "tags",
    }


def test_open_api_headers_map_to_card_fields():
    header_map = map_headers(OPEN_API_HEADERS, file="x.csv")
    assert header_map.style == OPEN_API
    mapping = dict(zip(OPEN_API_HEADERS, header_map.fields, strict=True))
    assert mapping["id"] == "card_id"
    assert mapping["owner.id"] == "owner_id"
    assert mapping["owner.email"] == "owner_email"
    assert mapping["companyName"] == "company_name"
    assert mapping["departmentName"] == "department"
    assert mapping["lastNameReading"] == "last_name_reading"
    assert mapping["city"] == "city"
    assert mapping["street"] == "street"
    assert mapping["exchangeDate"] == "exchange_date"


@pytest.mark.parametrize(
    ("header", "field_name"),
    [
        ("氏名［姓］", "last_name"),
        ("氏名(姓)", "last_name"),
        ("氏名（姓）", "last_name"),
        (" 氏名 [姓] ", "last_name"),
        ("姓", "last_name"),
        ("名", "first_name"),
        ("氏名［名］", "first_name"),
        ("セイ", "last_name_reading"),
        ("ｾｲ", "last_name_reading"),
        ("メイ", "first_name_reading"),
        ("ＵＲＬ", "url"),
        ("ｆａｘ", "fax"),
        ("\ufeff名刺ID", "card_id"),
        ("CompanyName", "company_name"),
        ("company_name", "company_name"),
    ],
)
def test_header_variants_match_after_nfkc_and_trimming(header: str, field_name: str):
    header_map = map_headers([header, "会社名", "氏名[姓]", "名刺所有者ユーザID"])
    assert header_map.columns[0] == (0, field_name)


def test_missing_required_headers_name_both_styles_and_the_file():
    with pytest.raises(MissingHeaderError) as error:
        map_headers(["名刺ID", "氏名[名]"], file="export.csv")
    message = str(error.value)
    assert "export.csv" in message
    for name in ("会社名", "companyName", "氏名[姓]", "lastName"):
        assert name in message
    for name in ("名刺所有者ユーザID", "名刺所有者メールアドレス", "owner.id", "owner.email"):
        assert name in message
    assert isinstance(error.value, ValueError)


def test_one_owner_column_is_enough():
    map_headers(["会社名", "氏名[姓]", "名刺所有者メールアドレス"])
    map_headers(["companyName", "lastName", "owner.id"])
    with pytest.raises(MissingHeaderError, match="名刺所有者ユーザID or 名刺所有者メールアドレス"):
        map_headers(["会社名", "氏名[姓]", "名刺所有者"], file="f.csv")


def test_missing_header_in_a_file_raises_when_opening(tmp_path: Path):
    path = write(tmp_path, "会社名,名刺所有者ユーザID\nA,U1\n", name="broken.csv")
    with pytest.raises(MissingHeaderError, match=r"broken\.csv.*氏名\[姓\]"):
        read_cards(path)


def test_unknown_headers_are_warned_once_per_file_and_ignored(tmp_path: Path):
    text = (
        HEADER
        + ",メモ,独自項目\n"
        + "".join(
            f"C{i},U1,株式会社A,山田,太郎,t{i}@example.jp,,2024/1/1,,memo,x\n" for i in range(5)
        )
    )
    path = write(tmp_path, text, name="extra.csv")
    with capture_logs() as logs:
        card_file = CardFile(path)
        cards = list(card_file)
    warnings = [entry for entry in logs if entry["event"] == "unknown_headers"]
    assert warnings == [
        {
            "event": "unknown_headers",
            "file": "extra.csv",
            "headers": ["メモ", "独自項目"],
            "log_level": "warning",
        }
    ]
    assert card_file.unknown_headers == ("メモ", "独自項目")
    assert len(cards) == 5 and all(isinstance(c, Card) for c in cards)


# --- encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_encoding_is_detected(tmp_path: Path, encoding: str):
    path = tmp_path / f"{encoding}.csv"
    write_csv(path, generate_cards(50, seed=5), encoding=encoding)
    assert CardFile(path).encoding == encoding


def test_same_rows_in_every_encoding_give_identical_cards(tmp_path: Path):
    rows = list(generate_cards(300, seed=11))
    results = []
    for encoding in ("cp932", "utf-8", "utf-8-sig"):
        path = tmp_path / f"{encoding}.csv"
        write_csv(path, rows, encoding=encoding)
        results.append(cards_of(path, source_name="cards.csv"))
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 300
    assert all(isinstance(c, Card) for c in results[0])


def test_cp932_bytes_only_after_one_megabyte_are_still_detected(tmp_path: Path):
    filler = "".join(
        f"C{i:07d},U1,Sample Inc.,Yamada,Taro,taro{i}@example.jp,,2024/01/01,\r\n"
        for i in range(20_000)
    )
    assert len(filler) > 1_000_000
    text = HEADER + "\r\n" + filler + "C9999999,U1,株式会社サンプル,髙橋,一郎,,,2024/01/01,\r\n"
    path = write(tmp_path, text, encoding="cp932")
    card_file = CardFile(path)
    assert card_file.encoding == "cp932"
    last = list(card_file)[-1]
    assert isinstance(last, Card)
    assert (last.company_name, last.last_name) == ("株式会社サンプル", "髙橋")


def test_undecodable_file_names_file_and_byte_offset(tmp_path: Path):
    # 0x81 starts a two-byte CP932 character, 0x20 cannot end one; neither is valid UTF-8.
    # The bad byte sits at the end of the first 64 KiB chunk so the offset crosses a boundary.
    header = b"id,owner.id,companyName,lastName"
    data = header + b"\n" + b"a" * (65535 - len(header) - 1) + b"\x81\x20rest\n"
    path = tmp_path / "garbage.csv"
    path.write_bytes(data)
    with pytest.raises(EncodingError) as error:
        read_cards(path)
    assert error.value.offset == 65535
    assert "garbage.csv" in str(error.value)
    assert "65535" in str(error.value)


# --- CSV structure and line numbers ---------------------------------------------------------------


def test_quoted_fields_with_newlines_and_commas_keep_physical_start_lines(tmp_path: Path):
    text = (
        HEADER
        + "\n"  # line 1
        + 'C1,U1,"サンプル, Inc.",山田,太郎,a@example.jp,"千代田区\n丸の内1-2-3\nビル",,\n'  # 2-4
        + "\n"  # 5: blank lines are skipped but still counted
        + "C2,U1,株式会社B,鈴木,,bad@@example,,,\n"  # 6
        + 'C3,U1,"株式会社\nC",佐藤,,c@example.jp,,,\n'  # 7-8: line break outside street
        + "C4,U1,株式会社D,田中,,d@example.jp,,,\n"  # 9
    )
    results = cards_of(write(tmp_path, text))
    assert [(type(r).__name__, r.line) for r in results] == [
        ("Card", 2),
        ("Reject", 6),
        ("Card", 7),
        ("Card", 9),
    ]
    first, third = results[0], results[2]
    assert isinstance(first, Card) and isinstance(third, Card)
    assert first.company_name == "サンプル, Inc."
    assert first.street == "千代田区\n丸の内1-2-3\nビル"
    assert results[1].field == "email"
    assert third.company_name == "株式会社 C"


def test_cp932_export_with_line_breaks_in_quoted_fields_reads_without_rejects(tmp_path: Path):
    # As Sansan exports them: CP932, CRLF rows, a department and an address over two lines.
    header = "名刺ID,名刺所有者ユーザID,会社名,部署名,氏名[姓],氏名[名],住所,建物名"
    text = (
        header
        + "\r\n"  # line 1
        + 'C1,U1,株式会社サンプル,"営業本部\r\n第一営業部",山田,太郎,'
        + '"東京都千代田区丸の内1-2-3\r\n  丸の内ビル",5F\r\n'  # lines 2-4
        + "C2,U1,株式会社テスト,開発部,鈴木,花子,大阪市北区1-1,\r\n"  # line 5
    )
    path = write(tmp_path, text, encoding="cp932")
    card_file = CardFile(path)
    assert card_file.encoding == "cp932"
    results = list(card_file)
    assert all(isinstance(r, Card) for r in results), results
    first, second = results
    assert isinstance(first, Card) and isinstance(second, Card)
    assert (first.line, second.line) == (2, 5)
    assert first.department == "営業本部 第一営業部"
    assert first.street == "東京都千代田区丸の内1-2-3\n丸の内ビル"
    assert first.building == "5F"
    assert second.department == "開発部"
    assert (card_file.cards, card_file.rejects) == (2, 0)


def test_crlf_files_number_lines_the_same(tmp_path: Path):
    text = HEADER + "\r\n" + 'C1,U1,A社,山田,,,"a\r\nb",,\r\n' + "C2,U1,B社,,,,,,\r\n"
    results = cards_of(write(tmp_path, text))
    assert [r.line for r in results] == [2, 4]
    assert isinstance(results[1], Reject) and results[1].field == "last_name"


@pytest.mark.parametrize(
    ("cells", "field_name", "reason"),
    [
        ("C1,U1,,,,,,,", "last_name", "no name and no company"),
        ("C1,U1,A社,,太郎,,,,", "last_name", "missing last name"),
        ("C1,,A社,山田,,,,,", "owner_id", "owner"),
        ("C1,U1,A社,山田,,taro@@example,,,", "email", "malformed email address 'taro@@example'"),
        ("C1,U1,A社,山田,,,,2024/13/01,", "exchange_date", "'2024/13/01'"),
        ("C1,U1,A社," + "山" * 81 + ",,,,,", "last_name", "80"),
        ("C1,U1,A社,山田,\x07太郎,,,,", "first_name", "U+0007"),
        ("C1,U1,A社,山田,,,,,,extra", "row", "cells"),
    ],
)
def test_every_reject_reason_reports_line_and_field(
    tmp_path: Path, cells: str, field_name: str, reason: str
):
    text = HEADER + "\nC0,U1,A社,山田,,,,,\n" + cells + "\n"
    results = cards_of(write(tmp_path, text), source_name="import-7")
    assert isinstance(results[0], Card)
    reject = results[1]
    assert isinstance(reject, Reject)
    assert (reject.source, reject.line, reject.field) == ("import-7", 3, field_name)
    assert reason in reject.reason
    assert reject.raw["名刺ID"] == "C1"


def test_short_rows_read_missing_cells_as_blank(tmp_path: Path):
    results = cards_of(write(tmp_path, HEADER + "\nC1,U1,A社,山田\n"))
    assert isinstance(results[0], Card)
    assert results[0].email == ""


def test_cards_carry_source_name_or_file_name(tmp_path: Path):
    path = write(tmp_path, HEADER + "\nC1,U1,A社,山田,,,,,\n", name="2024-05.csv")
    assert cards_of(path)[0].source == "2024-05.csv"
    assert cards_of(path, source_name="upload:42")[0].source == "upload:42"


def test_open_api_style_maps_city_and_street(tmp_path: Path):
    text = (
        "id,owner.email,companyName,lastName,firstName,prefecture,city,street,tags,exchangeDate\n"
        "A1,o@example.jp,Sample Inc.,Smith,John,東京都,千代田区,丸の内1-2-3,a|b,2024-05-01\n"
    )
    card_file = CardFile(write(tmp_path, text))
    assert card_file.style == OPEN_API
    card = next(iter(card_file))
    assert isinstance(card, Card)
    assert (card.card_id, card.owner_email) == ("A1", "o@example.jp")
    assert (card.prefecture, card.city, card.street) == ("東京都", "千代田区", "丸の内1-2-3")
    assert card.tags == ("a", "b")


def test_sansan_address_goes_to_street(tmp_path: Path):
    card = cards_of(write(tmp_path, HEADER + "\nC1,U1,A社,山田,,,千代田区丸の内1-2-3,,\n"))[0]
    assert isinstance(card, Card)
    assert (card.city, card.street) == ("", "千代田区丸の内1-2-3")


def test_tags_cell_is_split(tmp_path: Path):
    card = cards_of(
        write(tmp_path, HEADER + '\nC1,U1,A社,山田,,,,,"展示会;セミナー、VIP, 既存"\n')
    )[0]
    assert isinstance(card, Card)
    assert card.tags == ("展示会", "セミナー", "VIP", "既存")


def test_cards_without_card_id_get_stable_ids_across_reads(tmp_path: Path):
    header = "会社名,氏名[姓],氏名[名],名刺所有者ユーザID,メールアドレス"
    text = (
        header + "\n"
        "A社,山田,太郎,U1,taro@example.jp\n"
        "A社,山田,太郎,U1,taro@example.jp\n"  # the same card twice: the same id
        "B社,鈴木,一郎,U1,ichiro@example.jp\n"
    )
    path = write(tmp_path, text)
    first = [c.card_id for c in cards_of(path)]
    again = [c.card_id for c in cards_of(path)]
    assert first == again
    assert first[0] == first[1] != first[2]
    assert all(card_id.startswith("h-") for card_id in first)
    # The encoding of the file does not change the ids either.
    (tmp_path / "same.csv").write_bytes(text.encode("cp932"))
    assert [c.card_id for c in cards_of(tmp_path / "same.csv")] == first


def test_empty_file_is_an_error(tmp_path: Path):
    with pytest.raises(CsvFormatError, match="empty"):
        read_cards(write(tmp_path, ""))


def test_unterminated_quote_is_an_error_with_the_line(tmp_path: Path):
    text = HEADER + "\nC1,U1,A社,山田,,,,,\n" + 'C2,U1,"A社' + "x" * 200_000 + "\n"
    with pytest.raises(CsvFormatError, match="line 3"):
        cards_of(write(tmp_path, text))


def test_card_file_counts_cards_and_rejects(tmp_path: Path):
    text = HEADER + "\nC1,U1,A社,山田,,,,,\nC2,U1,,,,,,,\nC3,U1,B社,鈴木,,,,,\n"
    card_file = CardFile(write(tmp_path, text))
    list(card_file)
    assert (card_file.cards, card_file.rejects) == (2, 1)


# --- constant memory ------------------------------------------------------------------------------


def _peak_while_reading(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = 0
        for _ in read_cards(path):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_reading_uses_constant_memory_whatever_the_file_size(tmp_path: Path):
    # bench/csv_memory.py measures 200k+ rows; here a 10x size difference has to be enough.
    # Both files exceed the 64 KiB chunk that encoding detection decodes at a time.
    rows = list(generate_cards(5_000, seed=2))
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    write_csv(small, rows[:500], encoding="utf-8")
    write_csv(big, rows, encoding="utf-8")
    small_count, small_peak = _peak_while_reading(small)
    big_count, big_peak = _peak_while_reading(big)
    assert (small_count, big_count) == (500, 5_000)
    assert big.stat().st_size > 9 * small.stat().st_size
    assert big_peak < 1.25 * small_peak + 32 * 1024
    assert big_peak < 1024 * 1024
