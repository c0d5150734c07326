"""The person index's Lua logic on fakeredis: joining, union of persons, replays."""

import fakeredis
import pytest

from pipeline.models import Card
from workers.state.keys import Keys
from workers.state.person_index import PersonIndex

KEYS = Keys("t")


@pytest.fixture()
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture()
def index(client) -> PersonIndex:
    return PersonIndex(client, KEYS)


def card(card_id: str, **values: str) -> Card:
    base = {
        "last_name": "山田",
        "first_name": "太郎",
        "company_name": "サンプル商事",
        "owner_id": "U1",
    }
    base.update(values)
    return Card(card_id=card_id, **base)


def test_cards_of_one_person_join_one_person_key(index):
    results = index.join(
        [card("1", email="t@x.jp"), card("2", email="T@X.JP", company_name="別会社")], "i1"
    )
    assert results[0].person_key == results[1].person_key


def test_a_card_linking_two_persons_merges_them_and_the_older_key_survives(index):
    a = index.join([card("1", email="a@x.jp")], "i1")[0]
    b = index.join([card("2", mobile="090-1111-2222")], "i1")[0]
    assert a.person_key != b.person_key
    link = index.join([card("3", email="a@x.jp", mobile="09011112222")], "i1")[0]
    assert link.person_key == a.person_key
    assert link.merged_away == (b.person_key,)
    loaded = index.load([a.person_key, b.person_key])
    assert list(loaded) == [a.person_key]
    assert loaded[a.person_key].person.card_ids == ("1", "2", "3")
    assert index.resolve(b.person_key) == a.person_key


def test_replaying_a_card_changes_nothing(index):
    first = index.join([card("1", email="a@x.jp")], "i1")[0]
    again = index.join([card("1", email="a@x.jp")], "i1")[0]
    assert again.person_key == first.person_key
    assert not again.changed and again.version == first.version


def test_person_count_counts_live_persons(index):
    index.join([card("1", email="a@x.jp"), card("2", mobile="090-1111-2222")], "i1")
    assert index.person_count(["1", "2"]) == 2
    index.join([card("3", email="a@x.jp", mobile="090-1111-2222")], "i1")  # links both
    assert index.person_count(["1", "2", "3"]) == 1


def test_the_state_shows_keys_facts_ranks_and_assignments_as_plain_data(index):
    a, b = index.join([card("1", email="a@x.jp"), card("2", mobile="090-1111-2222")], "i1")
    state = index.state()
    assert state.card_persons == {"1": a.person_key, "2": b.person_key}
    assert state.ranks == {a.person_key: 1, b.person_key: 2}
    assert state.facts == {a.person_key: {"e:a@x.jp"}, b.person_key: {"m:+819011112222"}}
    assert state.persons_by_key["em:n:山田太郎|a@x.jp"] == (a.person_key,)
    assert state.aliases == {} and state.ambiguous == frozenset()


def test_rejoining_stored_cards_registers_the_current_keys_and_keeps_everything_else(index, client):
    first = index.join([card("1", email="a@x.jp"), card("2", mobile="090-1111-2222")], "i1")
    client.delete(KEYS.match_key())  # as if the index was built under other rules
    before = client.hmget(KEYS.card_import(), ["1", "2"])

    results = list(index.rejoin_stored_cards(chunk=1))

    assert sorted(x.card_id for x in results) == ["1", "2"]
    assert not any(x.changed or x.merged_away for x in results)
    assert client.hmget(KEYS.card_import(), ["1", "2"]) == before
    # a new card of the first person finds it again through the re-registered keys
    again = index.join([card("3", email="A@x.jp")], "i2")[0]
    assert again.person_key == first[0].person_key
