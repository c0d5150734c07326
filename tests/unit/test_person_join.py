"""The join rules of pipeline/person_join.py, one by one, on plain data."""

from __future__ import annotations

from pipeline.merge import new_person_key
from pipeline.person_join import (
    MAX_ALIAS_HOPS,
    CardEvidence,
    IndexState,
    MemoryPersonIndex,
    decide_join,
    facts_contradict,
    resolve_alias,
)

STRONG = "em:n:山田太郎|t1@x.jp"
OFFICE = "ad:n:山田太郎|サンプル|東京都港区芝1-2-3"
OFFICE_URL = "ur:n:山田太郎|サンプル|sample.co.jp"


def evidence(
    card_id: str = "C9", facts: tuple[str, ...] = (), strong=(), company=()
) -> CardEvidence:
    return CardEvidence(card_id, facts, tuple(strong), tuple(company))


def state(**values) -> IndexState:
    """Persons P1, P2, P3 created in that order, unless the test says otherwise."""
    return IndexState(**{"ranks": {"P1": 1, "P2": 2, "P3": 3}, **values})


# --- resolve_alias ------------------------------------------------------------------------------


def test_resolve_alias_follows_merges_to_the_live_person():
    assert resolve_alias({"P3": "P2", "P2": "P1"}, "P3") == "P1"
    assert resolve_alias({"P3": "P2"}, "P1") == "P1"


def test_resolve_alias_stops_on_a_cycle_instead_of_looping():
    assert resolve_alias({"P1": "P2", "P2": "P1"}, "P1") in {"P1", "P2"}
    chain = {f"P{i}": f"P{i + 1}" for i in range(MAX_ALIAS_HOPS + 5)}
    assert resolve_alias(chain, "P0") == f"P{MAX_ALIAS_HOPS}"


# --- facts ------------------------------------------------------------------------------------


def test_facts_contradict_only_when_a_shared_kind_shares_no_value():
    assert facts_contradict({"e:a@x.jp"}, {"e:b@x.jp"})
    assert not facts_contradict({"e:a@x.jp"}, {"e:a@x.jp", "e:b@x.jp"})
    assert not facts_contradict({"e:a@x.jp"}, {"t:+81311110001"})
    assert not facts_contradict(set(), {"e:a@x.jp"})


def test_emails_and_mobiles_together_are_one_kind_of_personal_contact():
    assert facts_contradict({"m:+819011111111"}, {"e:a@x.jp"})
    assert not facts_contradict({"m:+819011111111"}, {"e:a@x.jp", "m:+819011111111"})


# --- the rules of decide_join --------------------------------------------------------------------


def test_a_card_meeting_no_one_founds_a_person_under_its_own_key():
    decision = decide_join(evidence("C9", strong=[STRONG], company=[OFFICE]), state())
    assert decision.founded and decision.survivor == new_person_key("C9")
    assert decision.merged_away == () and not decision.marks_ambiguous
    assert decision.key_updates == {STRONG: (decision.survivor,), OFFICE: (decision.survivor,)}


def test_a_strong_key_always_joins_even_against_contradicting_facts():
    s = state(persons_by_key={STRONG: ["P1"]}, facts={"P1": {"m:+819011111111"}})
    decision = decide_join(evidence(facts=("m:+819022222222",), strong=[STRONG]), s)
    assert decision.survivor == "P1" and not decision.founded


def test_a_replayed_card_joins_the_person_it_joined_before():
    s = state(card_persons={"C9": "P2"}, aliases={"P2": "P1"})
    assert decide_join(evidence("C9"), s).survivor == "P1"


def test_a_company_candidate_joins_when_its_facts_fit_the_cards():
    s = state(persons_by_key={OFFICE: ["P1"]}, facts={"P1": {"e:t1@x.jp"}})
    assert decide_join(evidence(facts=("e:t1@x.jp",), company=[OFFICE]), s).survivor == "P1"
    assert decide_join(evidence(company=[OFFICE]), s).survivor == "P1"


def test_a_company_candidate_with_contradicting_facts_is_a_namesake():
    s = state(persons_by_key={OFFICE: ["P1"]}, facts={"P1": {"e:t1@x.jp"}})
    decision = decide_join(evidence(facts=("e:t2@x.jp",), company=[OFFICE]), s)
    assert decision.founded
    assert decision.key_updates[OFFICE] == (decision.survivor, "P1")


def test_facts_of_strong_persons_count_against_company_candidates():
    s = state(
        persons_by_key={STRONG: ["P2"], OFFICE: ["P1"]},
        facts={"P1": {"e:t1@x.jp"}, "P2": {"e:t2@x.jp"}},
    )
    decision = decide_join(evidence(strong=[STRONG], company=[OFFICE]), s)
    assert decision.survivor == "P2" and decision.merged_away == ()


def test_contradicting_candidates_make_the_card_join_only_the_fact_less_ones():
    s = state(
        persons_by_key={OFFICE: ["P1", "P2", "P3"]},
        facts={"P1": {"e:t1@x.jp"}, "P2": {"e:t2@x.jp"}},
    )
    decision = decide_join(evidence(company=[OFFICE]), s)
    assert decision.survivor == "P3" and decision.merged_away == ()
    assert decision.marks_ambiguous


def test_a_card_that_cannot_tell_namesakes_apart_founds_an_ambiguous_person():
    s = state(
        persons_by_key={OFFICE: ["P1", "P2"]}, facts={"P1": {"e:t1@x.jp"}, "P2": {"e:t2@x.jp"}}
    )
    decision = decide_join(evidence(company=[OFFICE]), s)
    assert decision.founded and decision.marks_ambiguous


def test_a_strong_key_settles_the_card_so_no_ambiguous_mark():
    s = state(
        persons_by_key={STRONG: ["P3"], OFFICE: ["P1", "P2"]},
        facts={"P1": {"t:+81311110001"}, "P2": {"t:+81311110002"}},
    )
    decision = decide_join(evidence(strong=[STRONG], company=[OFFICE]), s)
    assert decision.survivor == "P3" and not decision.marks_ambiguous


def test_the_oldest_person_survives_and_the_others_are_merged_away_oldest_first():
    s = state(
        persons_by_key={STRONG: ["P3"], OFFICE: ["P2"], OFFICE_URL: ["P1"]},
        ranks={"P1": 5, "P2": 4, "P3": 1},
    )
    decision = decide_join(evidence(strong=[STRONG], company=[OFFICE, OFFICE_URL]), s)
    assert decision.survivor == "P3"
    assert decision.merged_away == ("P2", "P1")
    assert decision.key_updates == {STRONG: ("P3",), OFFICE: ("P3",), OFFICE_URL: ("P3",)}


def test_an_ambiguous_person_is_joined_by_a_fact_less_card_through_a_company_key():
    s = state(persons_by_key={OFFICE: ["P1"]}, ambiguous={"P1"})
    assert decide_join(evidence(company=[OFFICE]), s).survivor == "P1"


def test_an_ambiguous_person_is_not_joined_by_a_card_with_facts():
    s = state(persons_by_key={OFFICE: ["P1"]}, ambiguous={"P1"})
    assert decide_join(evidence(facts=("e:t1@x.jp",), company=[OFFICE]), s).founded


def test_an_ambiguous_person_is_not_joined_when_the_cards_strong_person_has_facts():
    s = state(
        persons_by_key={STRONG: ["P2"], OFFICE: ["P1"]},
        facts={"P2": {"e:t1@x.jp"}},
        ambiguous={"P1"},
    )
    decision = decide_join(evidence(strong=[STRONG], company=[OFFICE]), s)
    assert decision.survivor == "P2" and decision.merged_away == ()


def test_key_updates_list_each_live_person_once_with_the_survivor_first():
    s = state(
        persons_by_key={OFFICE: ["P3", "P2", "P1"], STRONG: ["P2"]},
        aliases={"P3": "P1"},
        facts={"P1": {"e:t9@x.jp"}},
    )
    decision = decide_join(evidence(facts=("e:t1@x.jp",), strong=[STRONG], company=[OFFICE]), s)
    assert decision.survivor == "P2"
    assert decision.key_updates[OFFICE] == ("P2", "P1")


# --- MemoryPersonIndex: applying decisions ------------------------------------------------------


def test_a_union_hands_cards_and_facts_to_the_survivor_and_aliases_the_merged():
    index = MemoryPersonIndex()
    a = index.join(evidence("C1", facts=("e:t1@x.jp",), strong=["em:t1"])).decision.survivor
    b = index.join(evidence("C2", facts=("m:+8190",), strong=["mo:1"])).decision.survivor
    link = index.join(evidence("C3", facts=("e:t1@x.jp", "m:+8190"), strong=["em:t1", "mo:1"]))
    assert link.decision.survivor == a and link.decision.merged_away == (b,)
    assert {index.person_of(c) for c in ("C1", "C2", "C3")} == {a}
    assert index.state.aliases == {b: a}
    assert index.state.facts == {a: {"e:t1@x.jp", "m:+8190"}}


def test_replaying_the_same_card_changes_nothing_and_new_content_is_a_change():
    index = MemoryPersonIndex()
    card = evidence("C1", facts=("e:t1@x.jp",), strong=["em:t1"])
    assert index.join(card, content="v1").changed
    assert not index.join(card, content="v1").changed
    assert index.join(card, content="v2").changed


def test_a_merge_clears_the_ambiguous_flag_of_the_merged_person():
    index = MemoryPersonIndex()
    first = index.join(evidence("C1", ("e:t1@x.jp",), ["em:t1"], [OFFICE])).decision.survivor
    index.join(evidence("C2", facts=("e:t2@x.jp",), company=[OFFICE]))
    blank = index.join(evidence("C3", company=[OFFICE])).decision
    assert blank.founded and blank.marks_ambiguous
    assert index.join(evidence("C4", company=[OFFICE])).decision.survivor == blank.survivor
    assert index.state.ambiguous == {blank.survivor}
    # C3 again, now with C1's e-mail: its earlier person and C1's are joined by strong evidence
    again = index.join(evidence("C3", ("e:t1@x.jp",), ["em:t1"], [OFFICE])).decision
    assert again.survivor == first and again.merged_away == (blank.survivor,)
    assert index.state.ambiguous == frozenset()
    assert index.person_of("C4") == first
