"""`cardsync preview`: ingest, merge and map without writing; what it plans, and its CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from demo.synthetic import REJECT_LABEL, generate_labeled_cards, write_csv
from emulators.salesforce.seed import default_seed
from pipeline.merge import new_person_key
from workers.ops.preview import run_preview, soql_quote


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def row(card_id: str, last: str, first: str, company: str, **extra: str) -> dict[str, str]:
    return {
        "名刺ID": card_id,
        "名刺所有者ユーザID": "U0001",
        "名刺所有者": "田中 一郎",
        "名刺所有者メールアドレス": "tanaka@example.co.jp",
        "会社名": company,
        "氏名[姓]": last,
        "氏名[名]": first,
        "名刺交換日": "2024/04/01",
        **extra,
    }


def test_preview_of_a_generated_file_lists_every_card_person_and_reject(tmp_path):
    labeled = list(generate_labeled_cards(400, seed=8, bad_rate=0.03))
    source = tmp_path / "cards.csv"
    write_csv(source, [r for r, _ in labeled], encoding="cp932")

    summary = run_preview(source, tmp_path / "out", salesforce_seed=None)

    valid = [(r["名刺ID"], label) for r, label in labeled if label != REJECT_LABEL]
    persons = read_csv(tmp_path / "out" / "persons.csv")
    assert [p["card_id"] for p in persons] == [cid for cid, _ in valid]  # file order
    assert summary.cards == len(valid) and summary.rows_read == 400
    assert summary.rejected == len(labeled) - len(valid)
    rejects = read_csv(tmp_path / "out" / "rejects.csv")
    assert len(rejects) == summary.rejected
    assert all(r["card_id"] and int(r["line"]) >= 2 and r["field"] and r["reason"] for r in rejects)
    plan = read_csv(tmp_path / "out" / "plan.csv")
    assert {p["person_key"] for p in plan} == {p["person_key"] for p in persons}
    assert len(plan) == summary.persons == summary.create
    assert all(p["owner_id"] and (p["account_id"] or p["account_external_id"]) for p in plan)
    # no card of one true person lands in two persons' rows by a wrong merge in this small file
    label_of = dict(valid)
    by_person: dict[str, set[str]] = {}
    for p in persons:
        by_person.setdefault(p["person_key"], set()).add(label_of[p["card_id"]])
    assert all(len(labels) == 1 for labels in by_person.values())


def test_preview_plans_update_link_and_needs_review_against_existing_records(tmp_path):
    seed = default_seed()
    seed["Account"] = [
        *seed.get("Account", []),
        {"Name": "テスト工業株式会社", "Sansan_Company_Key__c": "KTEST"},
    ]
    ours = new_person_key("C1")
    seed["Contact"] = [
        {"LastName": "山田", "FirstName": "太郎", "Sansan_Person_Id__c": ours},
        {"LastName": "佐藤", "FirstName": "花子", "Email": "Hanako@Sample.co.jp"},
        {"LastName": "鈴木", "FirstName": "一郎", "Email": "ichiro@dup.co.jp"},
        {"LastName": "鈴木", "FirstName": "一郎", "Email": "ICHIRO@dup.co.jp"},
        {
            "LastName": "髙橋",
            "FirstName": "健",
            "Account": {"Sansan_Company_Key__c": "KTEST"},
        },
    ]
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    rows = [
        row("C1", "山田", "太郎", "株式会社サンプル", メールアドレス="taro@sample.co.jp"),
        row("C2", "山田", "太郎", "サンプル(株)", メールアドレス="TARO@sample.co.jp"),
        row("C3", "佐藤", "花子", "株式会社サンプル", メールアドレス="hanako@sample.co.jp"),
        row("C4", "鈴木", "一郎", "重複商事", メールアドレス="ichiro@dup.co.jp"),
        row("C5", "高橋", "健", "テスト工業(株)"),
        row("C6", "伊藤", "新", "新規株式会社", メールアドレス="shin@new.co.jp"),
        row("C7", "", "", "", メールアドレス="bad@@mail"),
    ]
    source = tmp_path / "small.csv"
    write_csv(source, rows, encoding="utf-8")

    summary = run_preview(source, tmp_path / "out", salesforce_seed=seed_file)

    persons = {p["card_id"]: p["person_key"] for p in read_csv(tmp_path / "out" / "persons.csv")}
    assert persons["C1"] == persons["C2"] == ours
    plan = {p["card_ids"]: p for p in read_csv(tmp_path / "out" / "plan.csv")}
    assert plan["C1;C2"]["action"] == "update"
    assert plan["C3"]["action"] == "link"
    assert plan["C4"]["action"] == "needs_review"
    assert len(plan["C4"]["target_ids"].split(";")) == 2
    assert plan["C5"]["action"] == "link"
    assert plan["C6"]["action"] == "create"
    assert plan["C1;C2"]["owner_username"] == "tanaka@example.co.jp"
    assert (summary.create, summary.update, summary.link, summary.needs_review) == (1, 1, 2, 1)
    assert summary.rejected == 1


def test_soql_values_are_escaped():
    assert soql_quote("O'Brien\\x") == "'O\\'Brien\\\\x'"
