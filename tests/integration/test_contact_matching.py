"""New persons meet Contacts the org already has: linked when one matches, reviewed when several."""

from __future__ import annotations

import json

import pytest

from config.settings import load_settings
from emulators.salesforce.seed import default_seed
from emulators.salesforce.server import start_emulator
from pipeline.models import Person
from tests.integration.harness import pipeline_env, running_workers, runtime_for, wait_drained
from workers.runtime import Runtime
from workers.salesforce.contact_index import ContactIndex
from workers.sources.importer import import_file

HEADER = (
    "名刺ID,名刺所有者ユーザID,名刺所有者メールアドレス,会社名,"
    "氏名[姓],氏名[名],メールアドレス,名刺交換日\n"
)
ROWS = [
    # same email as an existing Contact -> linked
    "C1,U0001,tanaka@example.co.jp,株式会社サンプル商事,山田,太郎,Taro.Yamada@sample.co.jp,2024-01-10",
    # no email match, same name at an existing Account -> linked by name and Account
    "C2,U0001,tanaka@example.co.jp,東京システム(株),鈴木,花子,hanako.new@tokyo-sys.co.jp,2024-01-11",
    # two existing Contacts share this email -> needs review, nothing written
    "C3,U0001,tanaka@example.co.jp,大阪物産株式会社,佐々木,健,shared@osaka.co.jp,2024-01-12",
    # two existing Accounts are this company -> needs review, nothing written
    "C5,U0001,tanaka@example.co.jp,ダブル(株),二宮,和也,kazuya@double.co.jp,2024-01-14",
    # a company name with a quote, a backslash and % finds its existing Account
    'C6,U0001,tanaka@example.co.jp,"O\'Reilly \\ 100% Trading, Inc.",Smith,Ann,'
    "ann@oreilly.example,2024-01-15",
    # nothing matches -> created
    "C4,U0001,tanaka@example.co.jp,北海道フーズ株式会社,北川,翔,sho@hokkaido.co.jp,2024-01-13",
]


def org_with_contacts() -> dict:
    seed = default_seed()
    # Seed references need an external ID; the key values are not cardsync's own derived keys.
    for account in seed["Account"]:
        account["Sansan_Company_Key__c"] = "seed-" + account["Name"]
    seed["Account"] += [
        {"Name": "株式会社ダブル"},
        {"Name": "ダブル株式会社 大阪支店"},
        {"Name": "O'Reilly \\ 100% Trading Co., Ltd."},
    ]
    seed["Contact"] = [
        {
            "LastName": "山田",
            "FirstName": "太郎",
            "Email": "taro.yamada@sample.co.jp",
            "Account": {"Sansan_Company_Key__c": "seed-株式会社サンプル商事"},
        },
        {
            "LastName": "鈴木",
            "FirstName": "花子",
            "Account": {"Sansan_Company_Key__c": "seed-東京システム株式会社"},
        },
        {"LastName": "佐々木", "FirstName": "健", "Email": "shared@osaka.co.jp"},
        {"LastName": "佐々木", "FirstName": "健一", "Email": "shared@osaka.co.jp"},
        {"LastName": "O'Brien", "FirstName": "Pat", "Email": "pat.o'brien@example.com"},
    ]
    return seed


@pytest.fixture()
def setup(redis_server, redis_client, tmp_path):
    emulator = start_emulator(seed=org_with_contacts(), data_dir=tmp_path / "emulator")
    env = pipeline_env(redis_server.url, emulator)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield runtime_for(env), emulator, env, tmp_path
    emulator.stop()


def test_existing_contacts_are_linked_or_reviewed_never_duplicated(setup):
    rt, emulator, env, tmp_path = setup
    path = tmp_path / "cards.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    with running_workers(env, tmp_path / "workers.log") as workers:
        started = import_file(rt, path)
        wait_drained(rt, started.import_id, workers)
    contacts = emulator.store.query_records("Contact")
    assert len(contacts) == 5 + 2  # five existing, two created (C4, C6); none duplicated
    ours = {c["Sansan_Person_Id__c"]: c for c in contacts if c["Sansan_Person_Id__c"]}
    assert len(ours) == 4
    oreilly = next(
        a for a in emulator.store.query_records("Account") if a["Name"].startswith("O'Reilly")
    )
    ann = next(c for c in ours.values() if c["Email"] == "ann@oreilly.example")
    assert ann["AccountId"] == oreilly["Id"]
    by_email = {(c["Email"] or "").lower(): c for c in ours.values()}
    yamada = by_email["taro.yamada@sample.co.jp"]
    assert yamada["LastName"] == "山田"  # the existing record, now carrying our external ID
    hanako = by_email["hanako.new@tokyo-sys.co.jp"]  # linked by name at the Account, email updated
    assert hanako["LastName"] == "鈴木" and hanako["FirstName"] == "花子"
    review = sorted(rt.redis.hvals(rt.keys.needs_review()))
    assert len(review) == 2
    reasons = {json.loads(entry)["reason"]: json.loads(entry) for entry in review}
    assert len(reasons["email"]["candidates"]) == 2  # the two Contacts sharing the email
    assert len(reasons["account"]["candidates"]) == 2  # the two Accounts of one company
    assert all(c.startswith("001") for c in reasons["account"]["candidates"])


def query_mode_index(monkeypatch) -> ContactIndex:
    """An index that must query per chunk: the org has more Contacts than the settings let it
    hold (CARDSYNC_SALESFORCE__CONTACT_INDEX_MAX)."""
    monkeypatch.setenv("CARDSYNC_SALESFORCE__CONTACT_INDEX_MAX", "1")
    return Runtime(load_settings()).contacts


def test_query_mode_escapes_values_and_finds_the_contact(setup, monkeypatch):
    index = query_mode_index(monkeypatch)  # on the org and Redis `setup` made
    assert index.ensure_fresh() == "query"
    person = Person(
        "Px",
        ("c",),
        {"last_name": "O'Brien", "first_name": "Pat", "email": "Pat.O'Brien@example.com"},
        "",
        "",
        "",
        "",
    )
    sneaky = Person("Py", ("d",), {"last_name": "X", "email": "x' OR Email != '"}, "", "", "", "")
    matches = index.match([person, sneaky], {})
    assert set(matches) == {"Px"}
    assert matches["Px"].action == "link" and matches["Px"].reason == "email"


def test_soql_values_with_quotes_backslashes_and_percent_cannot_change_the_query(
    setup, monkeypatch
):
    index = query_mode_index(monkeypatch)  # on the org and Redis `setup` made
    hostile = [
        Person(
            "P1",
            ("a",),
            {"last_name": "A", "email": "a\\' OR Email != null OR Email = \\'"},
            "",
            "",
            "",
            "",
        ),
        Person("P2", ("b",), {"last_name": "B", "email": "%@example.com"}, "", "", "", ""),
        Person(
            "P3", ("c",), {"last_name": "C", "email": "back\\slash@example.com"}, "", "", "", ""
        ),
    ]
    # a query whose quoting broke would match every Contact (or fail); escaped, none matches
    assert index.match(hostile, {}) == {}
