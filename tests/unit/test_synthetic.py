"""Specification of demo.synthetic: realistic, deterministic cards with ground truth."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from demo.synthetic import (
    BAD_ROW_KINDS,
    DEFAULT_OWNERS,
    REJECT_LABEL,
    SANSAN_HEADERS,
    SyntheticOwner,
    generate_cards,
    generate_labeled_cards,
    write_csv,
)
from pipeline.models import Card, Reject
from pipeline.normalize import (
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from workers.sources.csv_file import CardFile

N = 5_000


@pytest.fixture(scope="module")
def labeled() -> list[tuple[dict[str, str], str]]:
    return list(generate_labeled_cards(N, seed=42))


@pytest.fixture(scope="module")
def by_person(labeled: list[tuple[dict[str, str], str]]) -> dict[str, list[dict[str, str]]]:
    persons: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row, label in labeled:
        persons[label].append(row)
    return persons


def test_generates_exactly_n_rows_keyed_by_sansan_headers(labeled):
    assert len(labeled) == N
    assert all(tuple(row) == SANSAN_HEADERS for row, _ in labeled)


def test_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    assert list(generate_labeled_cards(500, seed=7)) == list(generate_labeled_cards(500, seed=7))
    assert list(generate_cards(500, seed=7)) != list(generate_cards(500, seed=8))


def test_card_ids_are_unique_and_person_ids_blank_by_default(labeled):
    ids = [row["名刺ID"] for row, _ in labeled]
    assert len(set(ids)) == N
    assert all(re.fullmatch(r"C\d{8}", card_id) for card_id in ids)
    assert all(row["人物ID"] == "" for row, _ in labeled)


def test_person_ids_can_be_included_and_equal_the_ground_truth():
    for row, label in generate_labeled_cards(300, seed=1, with_person_ids=True):
        assert row["人物ID"] == label


def test_a_share_of_persons_has_two_to_four_cards(by_person):
    sizes = Counter(len(rows) for rows in by_person.values())
    assert set(sizes) <= {1, 2, 3, 4}
    multi = sum(count for size, count in sizes.items() if size > 1)
    assert 0.15 < multi / len(by_person) < 0.35  # duplicate_rate defaults to 0.25


def test_without_duplicates_every_person_has_one_card():
    labels = [label for _, label in generate_labeled_cards(1_000, seed=3, duplicate_rate=0.0)]
    assert len(set(labels)) == 1_000


def test_companies_have_several_persons(by_person):
    persons_per_company = Counter(
        normalize_company(rows[0]["会社名"]).key for rows in by_person.values()
    )
    assert max(persons_per_company.values()) >= 5
    assert sum(1 for n in persons_per_company.values() if n >= 2) > len(persons_per_company) / 3


def test_legal_forms_are_spelled_differently_across_cards_of_one_company(labeled):
    spellings: dict[str, set[str]] = defaultdict(set)
    for row, _ in labeled:
        spellings[normalize_company(row["会社名"]).key].add(row["会社名"])
    all_names = {name for names in spellings.values() for name in names}
    assert any(len(names) >= 3 for names in spellings.values())
    for marker in ("株式会社", "(株)", "㈱", "（株）"):
        assert any(marker in name for name in all_names), marker
    assert any(name.startswith("株式会社") for name in all_names)
    assert any(name.endswith("株式会社") for name in all_names)


def test_cards_of_one_person_vary_like_real_cards(by_person):
    multi = [rows for rows in by_person.values() if len(rows) > 1]
    email_case = phone_format = dates_differ = title_change = 0
    for rows in multi:
        emails = {row["メールアドレス"] for row in rows if row["メールアドレス"]}
        if len(emails) > 1 and len({normalize_email(e) for e in emails}) == 1:
            email_case += 1
        tels = {row["電話番号"] for row in rows}
        if len(tels) > 1 and len({normalize_phone(t) for t in tels}) == 1:
            phone_format += 1
        dates = [row["名刺交換日"] for row in rows]
        dates_differ += len(set(dates)) == len(dates)
        title_change += len({(row["役職"], row["部署名"]) for row in rows}) > 1
    assert email_case > 10
    assert phone_format > 10
    assert dates_differ == len(multi)
    assert title_change > 10


def test_phone_numbers_come_in_many_formats_that_all_normalize(labeled):
    tels = [row[column] for row, _ in labeled for column in ("電話番号", "携帯電話", "FAX")]
    tels = [t for t in tels if t]
    assert all(normalize_phone(t) for t in tels)
    assert any(t.startswith("+81 ") for t in tels)
    assert any(re.fullmatch(r"0\d{9,10}", t) for t in tels)
    assert any("０" in t or "－" in t for t in tels)
    assert any(re.fullmatch(r"0\d{1,3}-\d{3,4}-\d{4}", t) for t in tels)


def test_names_vary_in_spacing_and_old_kanji_forms(labeled, by_person):
    last_names = [row["氏名[姓]"] for row, _ in labeled]
    assert any(" " in name.strip() or "\u3000" in name for name in last_names)
    assert any(ch in name for name in last_names for ch in "髙齋邊邉澤﨑濱嶋廣")
    # Every card of one person has the same name key (spacing and old forms fold away).
    for rows in by_person.values():
        keys = {normalize_name(row["氏名[姓]"], row["氏名[名]"]) for row in rows}
        assert len(keys) == 1


def test_readings_come_as_katakana_hiragana_or_half_width(labeled):
    readings = [row["氏名カナ[姓]"] for row, _ in labeled if row["氏名カナ[姓]"]]
    assert any(re.search(r"[ァ-ヶ]", r) for r in readings)
    assert any(re.search(r"[ぁ-ゖ]", r) for r in readings)
    assert any(re.search(r"[ｦ-ﾟ]", r) for r in readings)


def test_some_persons_change_jobs_keeping_name_and_mobile(by_person):
    job_changes = 0
    for rows in by_person.values():
        companies = {normalize_company(row["会社名"]).key for row in rows}
        if len(companies) < 2:
            continue
        job_changes += 1
        ordered = sorted(rows, key=lambda row: row["名刺交換日"].replace("/", "-"))
        mobiles = {normalize_phone(row["携帯電話"]) for row in ordered if row["携帯電話"]}
        assert len(mobiles) <= 1
        domains = {
            row["メールアドレス"].lower().split("@")[-1] for row in rows if row["メールアドレス"]
        }
        assert len(domains) >= 1
    assert job_changes >= 3


def test_namesakes_at_one_company_are_different_persons(by_person):
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for label, rows in by_person.items():
        row = rows[0]
        key = (
            normalize_name(row["氏名[姓]"], row["氏名[名]"]),
            normalize_company(row["会社名"]).key,
        )
        seen[key].add(label)
    namesakes = [labels for labels in seen.values() if len(labels) > 1]
    assert namesakes
    for labels in namesakes:
        email_sets = [
            {normalize_email(row["メールアドレス"]) for row in by_person[label]} - {""}
            for label in labels
        ]
        # No two namesakes share an address: e-mail tells them apart.
        assert sum(len(emails) for emails in email_sets) == len(set().union(*email_sets))


def test_company_emails_use_the_company_domain_and_a_few_are_blank(labeled):
    emails = [row["メールアドレス"] for row, _ in labeled]
    blank = sum(1 for e in emails if not e)
    assert 0.01 < blank / N < 0.10
    for row, _ in labeled:
        if row["メールアドレス"] and row["URL"]:
            domain = row["メールアドレス"].lower().split("@")[1]
            assert domain in row["URL"].lower()


def test_default_owners_are_the_emulator_users(labeled):
    emails = {owner.email for owner in DEFAULT_OWNERS}
    assert emails == {
        "tanaka@example.co.jp",
        "sato@example.co.jp",
        "suzuki@example.co.jp",
        "takahashi@example.co.jp",
        "ito@example.co.jp",
        "watanabe@example.co.jp",
        "yamamoto@example.co.jp",
        "nomatch@example.co.jp",
    }
    by_id = {owner.user_id: owner for owner in DEFAULT_OWNERS}
    used = set()
    for row, _ in labeled:
        owner = by_id[row["名刺所有者ユーザID"]]
        assert (row["名刺所有者"], row["名刺所有者メールアドレス"]) == (owner.name, owner.email)
        used.add(owner.email)
    assert used == emails


def test_custom_owners_are_used():
    owners = [SyntheticOwner("X1", "テスト 太郎", "x1@example.jp")]
    rows = list(generate_cards(50, seed=1, owners=owners))
    assert {row["名刺所有者ユーザID"] for row in rows} == {"X1"}


def test_bad_rows_of_every_kind_are_labelled_reject(tmp_path: Path):
    labeled = list(generate_labeled_cards(2_000, seed=9, bad_rate=0.05))
    bad = [row for row, label in labeled if label == REJECT_LABEL]
    assert len(bad) >= 2 * len(BAD_ROW_KINDS)
    path = tmp_path / "bad.csv"
    write_csv(path, (row for row, _ in labeled), encoding="cp932")
    results = list(CardFile(path))
    assert len(results) == len(labeled)
    for result, (_, label) in zip(results, labeled, strict=True):
        assert isinstance(result, Reject) == (label == REJECT_LABEL)
    fields = Counter(r.field for r in results if isinstance(r, Reject))
    assert set(fields) == {"email", "exchange_date", "title", "department", "last_name"}


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_generated_rows_are_all_valid_cards_in_every_encoding(tmp_path: Path, labeled, encoding):
    path = tmp_path / "cards.csv"
    assert write_csv(path, (row for row, _ in labeled), encoding=encoding) == N
    results = list(CardFile(path))
    assert all(isinstance(result, Card) for result in results)
    assert [c.card_id for c in results] == [row["名刺ID"] for row, _ in labeled]


def test_write_csv_uses_sansan_headers_and_rejects_other_encodings(tmp_path: Path):
    path = tmp_path / "x.csv"
    write_csv(path, generate_cards(3, seed=1), encoding="utf-8")
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(SANSAN_HEADERS)
    with pytest.raises(ValueError, match="encoding"):
        write_csv(path, [], encoding="latin-1")


def test_five_thousand_rows_generate():
    assert sum(1 for _ in generate_cards(5_000, seed=123)) == 5_000
