"""5,000 generated cards through two worker processes, a real Redis and the emulator over HTTPS."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from demo.synthetic import (
    REJECT_LABEL,
    SyntheticOwner,
    generate_labeled_cards,
    write_csv,
)
from emulators.salesforce.server import start_emulator
from pipeline.normalize import normalize_company, normalize_email
from tests.integration.harness import (
    pipeline_env,
    running_workers,
    runtime_for,
    salesforce_client,
    wait_drained,
)
from workers.sources.importer import import_file

CARDS = 5000
CONTACT_SOQL = (
    "SELECT Id, Email, OwnerId, AccountId, Account.Name, Sansan_Person_Id__c, "
    "Sansan_Merged_Into__c "
    "FROM Contact"
)
# What the owner rules must give for each Sansan user of the generated cards (seed edge cases).
EXPECTED_OWNER = {
    "tanaka@example.co.jp": "tanaka@example.co.jp",
    "sato@example.co.jp": "sato@example.co.jp",
    "suzuki@example.co.jp": "suzuki@example.co.jp",
    "yamamoto@example.co.jp": "Yamamoto@Example.co.jp",  # username differs only in case
    "takahashi@example.co.jp": "integration",  # inactive
    "ito@example.co.jp": "integration",  # Chatter Free
    "watanabe@example.co.jp": "integration",  # Chatter External
    "nomatch@example.co.jp": "integration",  # no such username
}


@pytest.fixture(scope="module")
def synced(redis_server, tmp_path_factory):
    """Run the import once (then again, then a late owner); tests read what it left behind."""
    work = tmp_path_factory.mktemp("e2e")
    client = __import__("redis").Redis.from_url(redis_server.url)
    client.flushall()
    emulator = start_emulator(data_dir=work / "emulator")
    env = pipeline_env(redis_server.url, emulator)
    labeled = list(generate_labeled_cards(CARDS, seed=11, bad_rate=0.02))
    csv_path = work / "cards.csv"
    write_csv(csv_path, [row for row, _ in labeled], encoding="cp932")
    late_path = work / "late.csv"
    late_owner = SyntheticOwner(
        "U0100", "小林 優子", "kobayashi@example.co.jp", "first seen later", 1
    )
    write_csv(
        late_path,
        list(
            __import__("demo.synthetic").synthetic.generate_cards(20, seed=99, owners=[late_owner])
        ),
    )

    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        rt = runtime_for(env)
        sf = salesforce_client(emulator)
        with running_workers(env, work / "workers.log") as workers:
            first = import_file(rt, csv_path)
            wait_drained(rt, first.import_id, workers)
            after_first = {
                "stats": dict(rt.redis.hgetall(rt.keys.stats())),
                "contacts": sf.query_all(CONTACT_SOQL)["records"],
                "accounts": sf.query_all("SELECT Id, Name FROM Account")["records"],
                "persons": rt.persons.person_count(rt.tracker.merged_cards(first.import_id)),
                "live_persons": list(
                    rt.persons.load(
                        sorted(
                            {rt.persons.resolve(pk) for pk in rt.redis.hvals(rt.keys.card_person())}
                        )
                    ).values()
                ),
            }
            second = import_file(rt, csv_path)
            wait_drained(rt, second.import_id, workers)
            after_second = {
                "stats": dict(rt.redis.hgetall(rt.keys.stats())),
                "contacts": sf.query_all(CONTACT_SOQL)["records"],
                "accounts": sf.query_all("SELECT Id, Name FROM Account")["records"],
            }
            late = import_file(rt, late_path)
            wait_drained(rt, late.import_id, workers)
        users = {
            u["Username"]: u["Id"] for u in sf.query_all("SELECT Id, Username FROM User")["records"]
        }
        yield {
            "rt": rt,
            "sf": sf,
            "labeled": labeled,
            "first": first,
            "second": second,
            "late": late,
            "after_first": after_first,
            "after_second": after_second,
            "users": users,
            "integration_id": rt.gateway.user_id,
        }
    emulator.stop()


def live(contacts):
    return [c for c in contacts if not c["Sansan_Merged_Into__c"]]


def test_every_row_is_accounted_for(synced):
    rt, first = synced["rt"], synced["first"]
    counts = rt.tracker.counts(first.import_id)
    assert counts.read == CARDS
    assert counts.read == counts.rejected + counts.merged
    errors = list(rt.redis.hvals(rt.keys.record_errors()))[:3]
    assert counts.failed == 0, errors
    assert counts.written == counts.merged
    assert rt.redis.hlen(rt.keys.record_errors()) == 0


def test_each_person_is_exactly_one_contact(synced):
    contacts = live(synced["after_first"]["contacts"])
    person_ids = Counter(c["Sansan_Person_Id__c"] for c in contacts)
    assert all(n == 1 for n in person_ids.values())
    assert len(contacts) == synced["after_first"]["persons"]
    emails = Counter(normalize_email(c["Email"]) for c in contacts if c["Email"])
    assert [e for e, n in emails.items() if n > 1] == []


def test_duplicates_in_the_file_were_merged(synced):
    truth = {label for _, label in synced["labeled"] if label != REJECT_LABEL}
    contacts = live(synced["after_first"]["contacts"])
    # fewer Contacts than valid cards: cards of one person became one Contact
    valid_cards = sum(1 for _, label in synced["labeled"] if label != REJECT_LABEL)
    assert len(contacts) < valid_cards
    # and never fewer persons than the generator's true persons minus namesake merges (≤ 5 %)
    assert len(contacts) >= 0.95 * len(truth)


def test_owners_follow_the_user_mapping_rules_for_every_edge_case(synced):
    users, integration_id = synced["users"], synced["integration_id"]
    contacts = {c["Sansan_Person_Id__c"]: c for c in live(synced["after_first"]["contacts"])}
    persons = {lp.person.person_key: lp for lp in synced["after_first"]["live_persons"]}
    assert set(persons) == set(contacts)
    seen = Counter()
    for key, loaded in persons.items():
        owner_email = loaded.person.owner_email.lower()
        if owner_email not in EXPECTED_OWNER:
            continue  # a person whose newest card came from the late import
        expected = EXPECTED_OWNER[owner_email]
        expected_id = integration_id if expected == "integration" else users[expected]
        assert contacts[key]["OwnerId"] == expected_id, (owner_email, key)
        seen[owner_email] += 1
    assert set(seen) == set(EXPECTED_OWNER), "every owner edge case appears in the data"


def test_owner_first_seen_after_the_initial_mapping_goes_to_default_user(synced):
    rt = synced["rt"]
    late_cards = rt.tracker.merged_cards(synced["late"].import_id)
    keys = {rt.persons.resolve(rt.redis.hget(rt.keys.card_person(), c)) for c in late_cards}
    # persons whose newest card is owned by the late Sansan user (others merged into older persons)
    owned_late = [
        key
        for key, lp in rt.persons.load(sorted(keys)).items()
        if lp.person.owner_email == "kobayashi@example.co.jp"
    ]
    assert owned_late
    contacts = {
        c["Sansan_Person_Id__c"]: c["OwnerId"]
        for c in synced["sf"].query_all("SELECT OwnerId, Sansan_Person_Id__c FROM Contact")[
            "records"
        ]
    }
    # kobayashi is an active Salesforce user with a matching username, yet joined too late
    assert {contacts[k] for k in owned_late} == {synced["integration_id"]}
    assert rt.owners.seen()["u0100"]["reason"] == "new_user"


def test_contacts_are_linked_to_the_account_of_their_company(synced):
    contacts = {c["Sansan_Person_Id__c"]: c for c in live(synced["after_first"]["contacts"])}
    for loaded in synced["after_first"]["live_persons"]:
        key = loaded.person.person_key
        company_key = normalize_company(loaded.person.get("company_name")).key
        contact = contacts[key]
        assert contact["AccountId"], key
        assert normalize_company(contact["Account"]["Name"]).key == company_key


def test_one_account_per_company(synced):
    accounts = synced["after_first"]["accounts"]
    keys = Counter(normalize_company(a["Name"]).key for a in accounts)
    assert [k for k, n in keys.items() if n > 1] == []


def test_rejects_are_listed_with_file_line_field_and_reason(synced):
    rt, first, labeled = synced["rt"], synced["first"], synced["labeled"]
    rejects = rt.tracker.rejects(first.import_id)
    assert len(rejects) == sum(1 for _, label in labeled if label == REJECT_LABEL)
    for reject in rejects:
        assert reject.source == "cards.csv"
        assert reject.line >= 2 and reject.field and reject.reason


def test_reimporting_the_same_file_creates_nothing_new(synced):
    before, after = synced["after_first"], synced["after_second"]
    assert len(after["contacts"]) == len(before["contacts"])
    assert len(after["accounts"]) == len(before["accounts"])
    for counter in ("Contact.created", "Account.created", "Contact.updated", "Account.updated"):
        assert after["stats"].get(counter) == before["stats"].get(counter), counter


def test_api_calls_scale_with_persons_not_cards(synced):
    stats = synced["after_first"]["stats"]
    persons = int(stats["Contact.created"])
    accounts = int(stats["Account.created"])
    assert int(stats["api_calls"]) <= math.ceil(persons / 200) + math.ceil(accounts / 200) + 20
