"""Specification of the matching keys in pipeline.normalize."""

from __future__ import annotations

import pytest

from pipeline.normalize import (
    KANJI_VARIANTS,
    LEGAL_FORMS,
    ROLE_EMAIL_LOCAL_PARTS,
    CompanyKey,
    is_mobile_number,
    is_role_email,
    normalize_address,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_postal_code,
    normalize_reading,
    normalize_text,
    normalize_url_host,
)

# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  山田\u3000\u3000太郎  ", "山田 太郎"),
        ("ＡＢＣ　ｶﾌﾞｼｷｶﾞｲｼｬ", "ABC カブシキガイシャ"),
        ("a \t\n b", "a b"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_text_applies_nfkc_trims_and_folds_whitespace_runs(raw: str, expected: str):
    assert normalize_text(raw) == expected


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "common"), sorted(KANJI_VARIANTS.items()))
def test_every_variant_kanji_folds_to_its_common_form(old: str, common: str):
    assert normalize_name(old) == common
    assert normalize_name(f"{old}田", "太郎") == normalize_name(f"{common}田", "太郎")


def test_name_key_folds_the_classic_old_forms():
    assert normalize_name("髙橋", "一郎") == normalize_name("高橋", "一郎")
    assert normalize_name("齋藤", "花子") == normalize_name("斎藤", "花子")
    assert normalize_name("渡邊") == normalize_name("渡邉") == normalize_name("渡辺")
    assert normalize_name("山﨑") == normalize_name("山崎")


def test_name_key_keeps_sai_surnames_distinct():
    # 斉藤 and 斎藤 are different families; each absorbs only its own old form.
    assert normalize_name("斉藤", "太郎") != normalize_name("斎藤", "太郎")
    assert normalize_name("齊藤") == normalize_name("斉藤")
    assert normalize_name("齋藤") == normalize_name("斎藤")
    assert normalize_name("齊藤") != normalize_name("齋藤")
    assert {old for old, new in KANJI_VARIANTS.items() if new == "斎"} == {"齋"}
    assert {old for old, new in KANJI_VARIANTS.items() if new == "斉"} == {"齊"}


def test_name_key_removes_spaces_and_middle_dots_and_lowercases_latin():
    assert normalize_name("山田 ", " 太郎") == "山田太郎"
    assert normalize_name("山田\u3000太郎") == "山田太郎"
    assert normalize_name("ジョン・", "スミス") == normalize_name("ジョン", "スミス")
    assert normalize_name("ｼﾞｮﾝ･ｽﾐｽ") == "ジョンスミス"
    assert normalize_name("Smith", "John") == "smithjohn"
    assert normalize_name("ＳＭＩＴＨ") == "smith"


def test_reading_key_is_katakana_without_spaces_for_any_kana_width():
    assert normalize_reading("たかはし") == "タカハシ"
    assert normalize_reading("ﾀｶﾊｼ") == "タカハシ"
    assert normalize_reading("ﾀﾞｲｽｹ") == "ダイスケ"
    assert normalize_reading("ヤマダ　タロウ") == "ヤマダタロウ"
    assert normalize_reading("じょん・すみす") == "ジョンスミス"


# --- companies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "株式会社サンプル",
        "サンプル株式会社",
        "株式会社 サンプル",
        "サンプル 株式会社",
        "(株)サンプル",
        "サンプル(株)",
        "（株）サンプル",
        "サンプル（株）",
        "㈱サンプル",
        "サンプル㈱",
        "( 株 )サンプル",
        "㍿サンプル",
        "ｻﾝﾌﾟﾙ(ｶ)",
        "サンプル K.K.",
        "サンプル KK",
    ],
)
def test_company_key_ignores_legal_form_spelling_and_position(name: str):
    company = normalize_company(name)
    assert company.key == "サンプル"
    assert company.legal_form == "株式会社"


@pytest.mark.parametrize(
    ("name", "legal_form"),
    [
        ("有限会社サンプル", "有限会社"),
        ("(有)サンプル", "有限会社"),
        ("サンプル㈲", "有限会社"),
        ("合同会社サンプル", "合同会社"),
        ("サンプル(同)", "合同会社"),
        ("サンプル G.K.", "合同会社"),
        ("合資会社サンプル", "合資会社"),
        ("合名会社サンプル", "合名会社"),
        ("一般社団法人サンプル", "一般社団法人"),
        ("一般財団法人サンプル", "一般財団法人"),
        ("公益社団法人サンプル", "公益社団法人"),
        ("公益財団法人サンプル", "公益財団法人"),
        ("特定非営利活動法人サンプル", "特定非営利活動法人"),
        ("NPO法人サンプル", "特定非営利活動法人"),
        ("ＮＰＯ法人サンプル", "特定非営利活動法人"),
        ("医療法人サンプル", "医療法人"),
        ("医療法人社団サンプル", "医療法人社団"),
        ("学校法人サンプル", "学校法人"),
        ("社会福祉法人サンプル", "社会福祉法人"),
    ],
)
def test_company_key_strips_every_japanese_legal_form_and_keeps_it(name: str, legal_form: str):
    assert normalize_company(name) == (
        "サンプル",
        legal_form,
        normalize_company(name).display,
    )


@pytest.mark.parametrize(
    ("name", "legal_form"),
    [
        ("Sample Co., Ltd.", "Co., Ltd."),
        ("Sample Co.,Ltd.", "Co., Ltd."),
        ("Sample Co.,Ltd", "Co., Ltd."),
        ("Sample Co. Ltd.", "Co., Ltd."),
        ("SAMPLE CO., LTD.", "Co., Ltd."),
        ("Sample Company Limited", "Co., Ltd."),
        ("Sample Ltd.", "Ltd."),
        ("Sample Ltd", "Ltd."),
        ("Sample, Inc.", "Inc."),
        ("Sample Inc", "Inc."),
        ("Sample Incorporated", "Inc."),
        ("Sample Corporation", "Corp."),
        ("Sample Corp.", "Corp."),
        ("Sample LLC", "LLC"),
        ("Sample K.K.", "株式会社"),
        ("Ｓａｍｐｌｅ　Ｃｏ．，Ｌｔｄ．", "Co., Ltd."),
    ],
)
def test_company_key_strips_english_legal_forms_in_their_usual_spellings(
    name: str, legal_form: str
):
    company = normalize_company(name)
    assert company.key == "sample"
    assert company.legal_form == legal_form


@pytest.mark.parametrize(
    "name",
    [
        "株式会社サンプル 東京支店",
        "サンプル(株) 営業本部",
        "サンプル株式会社 大阪営業所",
        "株式会社サンプル 第一営業部",
        "株式会社サンプル 営業本部 第二営業部",
        "株式会社サンプル 横浜工場",
        "株式会社サンプル 本社",
        "株式会社サンプル 中央研究所",
        "株式会社サンプル 物流センター",
        "株式会社サンプル 海外事業部",
        "株式会社サンプル 総務課",
        "株式会社サンプル 東京 支店",
        "サンプル株式会社東京支店",
        "サンプル 東京支店",
        "Sample Co., Ltd. Tokyo Branch",
        "Sample Tokyo Office",
        "Sample Sales Division",
    ],
)
def test_company_key_drops_branch_and_department_text(name: str):
    assert normalize_company(name).key in {"サンプル", "sample"}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("株式会社サンプル研究所", "サンプル研究所"),
        ("日本センター株式会社", "日本センター"),
        ("株式会社本部商事", "本部商事"),
        ("サンプル部品株式会社", "サンプル部品"),
        ("ABC センター株式会社", "abcセンター"),
        ("株式会社 ABC 倶楽部", "abc倶楽部"),
        ("東京センター", "東京センター"),
    ],
)
def test_company_key_keeps_names_that_merely_contain_branch_words(name: str, key: str):
    assert normalize_company(name).key == key


def test_company_key_drops_spaces_and_punctuation_and_lowercases():
    assert normalize_company("サンプル・ホールディングス株式会社").key == "サンプルホールディングス"
    assert normalize_company("ＡＢＣ　ｼｽﾃﾑｽﾞ株式会社").key == "abcシステムズ"
    assert normalize_company("A.B.C. Trading Co., Ltd.").key == "abctrading"


def test_company_display_keeps_the_legal_form_as_written_and_drops_branch_text():
    assert normalize_company("株式会社サンプル 東京支店").display == "株式会社サンプル"
    assert normalize_company("サンプル㈱ 営業本部").display == "サンプル(株)"
    assert normalize_company("Sample Co.,Ltd. Tokyo Branch").display == "Sample Co.,Ltd."


def test_company_key_does_not_take_latin_words_at_the_start_for_legal_forms():
    assert normalize_company("GK Design").key == "gkdesign"
    assert normalize_company("GK Design").legal_form == ""
    assert normalize_company("Zinc Works").key == "zincworks"


def test_company_key_of_a_bare_legal_form_or_blank():
    assert normalize_company("株式会社").key == "株式会社"
    assert normalize_company("") == CompanyKey("", "", "")


def test_legal_form_table_canonical_spellings_map_to_themselves():
    for canonical, spellings in LEGAL_FORMS.items():
        assert canonical in spellings
        assert normalize_company(f"サンプル {canonical}").legal_form == canonical


# --- e-mail ---------------------------------------------------------------------------------------


def test_email_key_is_trimmed_and_lowercase():
    assert normalize_email("  Taro.Yamada@Example.CO.JP ") == "taro.yamada@example.co.jp"
    assert normalize_email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ") == "taro@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "info@example.co.jp",
        "Sales@example.com",
        "support+jp@example.com",
        "no-reply@x.jp",
        "toiawase@example.co.jp",
        "eigyo@example.co.jp",
        "noreply@example.com",
    ],
)
def test_role_addresses_are_recognised(address: str):
    assert is_role_email(address)


@pytest.mark.parametrize(
    "address", ["taro.yamada@example.co.jp", "info.taro@example.com", "hrk@example.com", "", "info"]
)
def test_personal_addresses_are_not_role_addresses(address: str):
    assert not is_role_email(address)


def test_role_list_is_lower_case_data():
    assert all(part == part.lower() for part in ROLE_EMAIL_LOCAL_PARTS)
    assert {"info", "sales", "contact", "support", "admin", "webmaster"} <= ROLE_EMAIL_LOCAL_PARTS


# --- phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("03-1234-5678", "+81312345678"),
        ("0312345678", "+81312345678"),
        ("03 1234 5678", "+81312345678"),
        ("(03)1234-5678", "+81312345678"),
        ("+81 3 1234 5678", "+81312345678"),
        ("+81-3-1234-5678", "+81312345678"),
        ("+81 (0)3 1234 5678", "+81312345678"),
        ("０３－１２３４－５６７８", "+81312345678"),
        ("03-1234-5678(代)", "+81312345678"),
        ("03-1234-5678（代表）", "+81312345678"),
        ("03-1234-5678 内線123", "+81312345678"),
        ("TEL:03-1234-5678", "+81312345678"),
        ("090 1234 5678", "+819012345678"),
        ("090-1234-5678", "+819012345678"),
        ("０９０１２３４５６７８", "+819012345678"),
        ("052-123-4567", "+81521234567"),
        ("0120-123-456", "+81120123456"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_phone_numbers_normalize_to_e164_with_japan_as_default(raw: str, e164: str):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "   ", "abc", "なし", "1234", "-", "+"])
def test_unparseable_phone_numbers_give_empty_string_without_raising(raw: str):
    assert normalize_phone(raw) == ""


def test_mobile_numbers_are_recognised():
    assert is_mobile_number(normalize_phone("090-1234-5678"))
    assert is_mobile_number(normalize_phone("080-1234-5678"))
    assert is_mobile_number(normalize_phone("070-1234-5678"))
    assert not is_mobile_number(normalize_phone("03-1234-5678"))
    assert not is_mobile_number(normalize_phone("0120-123-456"))
    assert not is_mobile_number("")
    assert is_mobile_number("+447911123456")


# --- web, postal, address -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("https://www.example.co.jp/", "example.co.jp"),
        ("http://WWW.Example.COM/path?q=1", "example.com"),
        ("www.example.co.jp/abc", "example.co.jp"),
        ("example.jp", "example.jp"),
        ("https://shop.example.com:8443/x", "shop.example.com"),
        ("ｗｗｗ．ｅｘａｍｐｌｅ．ｊｐ", "example.jp"),
        ("", ""),
    ],
)
def test_url_host_is_lowercase_without_www_and_scheme_is_optional(raw: str, host: str):
    assert normalize_url_host(raw) == host


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("〒100-0001", "1000001"),
        ("１００－０００１", "1000001"),
        ("1000001", "1000001"),
        ("100 0001", "1000001"),
        ("〒１００ー０００１", "1000001"),
        ("100-001", ""),
        ("100-00011", ""),
        ("abc", ""),
        ("", ""),
    ],
)
def test_postal_code_is_seven_digits_or_empty(raw: str, code: str):
    assert normalize_postal_code(raw) == code


def test_address_key_folds_width_spaces_and_dashes_after_digits():
    a = normalize_address("東京都", "千代田区", "丸の内１－２－３　サンプルビル")
    b = normalize_address("東京都", "", "千代田区丸の内1-2-3 サンプルビル")
    c = normalize_address("東京都", "千代田区", "丸の内1ー2‐3サンプルビル")
    d = normalize_address("東京都", "千代田区", "丸の内1−2—3サンプルビル")
    assert a == b == c == d == "東京都千代田区丸の内1-2-3サンプルビル"


def test_address_key_keeps_long_vowel_marks_in_words():
    assert normalize_address("", "", "センタービル1ー2") == "センタービル1-2"
