"""Which persons a card joins: the name-merge decision as a pure function over the index's state.

This is the specification of the join. `workers/state/join_card.lua` makes the same decision
inside Redis, where the read-decide-write must be atomic across workers; tests run both on the
same cards and require the same answers, so a change to the rules is made here first and then
mirrored in the Lua. `match_keys` and `identity_facts` in `pipeline/merge.py` say what a card
brings; this module says what the index does with it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from pipeline.merge import identity_facts, is_company_key, match_keys, new_person_key
from pipeline.models import Card

# An alias chain longer than this is a corrupted index, not a history of merges; stopping keeps
# a lookup from looping forever (the Lua stops at the same depth).
MAX_ALIAS_HOPS = 64


def resolve_alias(aliases: Mapping[str, str], person_key: str) -> str:
    """The live person a person key stands for today: follow merged-away keys to their survivor."""
    for _ in range(MAX_ALIAS_HOPS):
        survivor = aliases.get(person_key)
        if survivor is None:
            return person_key
        person_key = survivor
    return person_key


@dataclass(frozen=True, slots=True)
class CardEvidence:
    """What one card brings to the index: its identity facts and the keys it is found under."""

    card_id: str
    facts: tuple[str, ...]
    strong_keys: tuple[str, ...]
    company_keys: tuple[str, ...]

    @classmethod
    def of(cls, card: Card) -> CardEvidence:
        keys = match_keys(card)
        return cls(
            card_id=card.card_id,
            facts=tuple(identity_facts(card)),
            strong_keys=tuple(k for k in keys if not is_company_key(k)),
            company_keys=tuple(k for k in keys if is_company_key(k)),
        )

    @property
    def keys(self) -> tuple[str, ...]:
        return self.strong_keys + self.company_keys


@dataclass(frozen=True, slots=True)
class IndexState:
    """A read-only view of the person index, as plain data.

    persons_by_key: match key -> the person keys registered under it (several for namesakes).
    aliases: merged-away person key -> the person it was merged into.
    ranks: person key -> creation sequence (1, 2, ...); the oldest person survives a union.
    facts: person key -> its identity facts ("e:", "m:", "t:"); persons without facts are absent.
    ambiguous: persons founded by a card that company keys could not place between namesakes.
    card_persons: card id -> the person key the card last joined.
    """

    persons_by_key: Mapping[str, Sequence[str]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    ranks: Mapping[str, int] = field(default_factory=dict)
    facts: Mapping[str, Set[str]] = field(default_factory=dict)
    ambiguous: Set[str] = field(default_factory=frozenset)
    card_persons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JoinDecision:
    """What joining one card does to the index.

    survivor: the person the card belongs to now. founded: the survivor is a new person (the
    card's own key, `new_person_key(card_id)`). merged_away: the persons that become aliases of
    the survivor and hand it their cards and facts, oldest first. marks_ambiguous: the survivor
    gets the ambiguous flag. key_updates: each of the card's keys -> the persons it lists
    afterwards, the survivor first.
    """

    survivor: str
    founded: bool
    merged_away: tuple[str, ...]
    marks_ambiguous: bool
    key_updates: Mapping[str, tuple[str, ...]]


def _by_kind(facts: Iterable[str]) -> dict[str, set[str]]:
    # E-mails and mobiles are also pooled as one kind "p" (personal contact): a card known only
    # by a mobile must not join, on company evidence alone, a person known only by an e-mail.
    kinds: dict[str, set[str]] = {}
    for fact in facts:
        kind = fact[:1]
        kinds.setdefault(kind, set()).add(fact)
        if kind in ("e", "m"):
            kinds.setdefault("p", set()).add(fact)
    return kinds


def facts_contradict(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Two sides are different people when, for some kind both have, they share no value.

    Kinds are "e" (personal e-mail), "m" (mobile), "t" (direct phone) and "p" (e-mail or mobile
    together). A side without facts of a kind says nothing about that kind.
    """
    mine, other = _by_kind(ours), _by_kind(theirs)
    return any(kind in other and not values & other[kind] for kind, values in mine.items())


def decide_join(card: CardEvidence, state: IndexState) -> JoinDecision:
    """Which persons this card joins, which one survives, and what the index records.

    1. Candidates: the person the card joined before (a replay finds itself) and the persons
       under its keys, each resolved through aliases to the live person.
    2. Strong keys always join: a person reached through the card's earlier assignment or a
       strong key (person id, name + personal e-mail, name + mobile) is joined unconditionally.
       Their facts are added to the card's: together they are what the card is known to be.
    3. Company candidates join only if their facts fit: a person reached only through a company
       key (name + company + address / URL / direct phone) is a namesake, not this person, when
       its facts contradict what the card is known to be (`facts_contradict`).
    4. An ambiguous person is only joined by fact-less cards through company keys: if the card
       (with its strong persons) has any facts, it cannot tell which namesake the ambiguous
       person was either, and a replay must not pull it in when the first pass did not.
    5. Candidates that contradict each other: the fitting company candidates must also fit one
       another (taken oldest first). If any does not, the card cannot tell them apart and joins
       only those that carry no facts at all.
    6. The oldest person survives (lowest creation rank); the others joined are merged away into
       it. Nothing joined: the card founds a person, keyed `new_person_key(card_id)`.
    7. Ambiguous marker: a card that company keys alone could not place (a conflict in 5 and no
       strong person) marks its survivor ambiguous.
    8. Each of the card's keys then lists its live persons once, the survivor first.
    """
    candidates = _candidates(card, state)  # person -> reached through a strong key

    def rank(person_key: str) -> int:
        return state.ranks.get(person_key, 0)

    def facts_of(person_key: str) -> Set[str]:
        return state.facts.get(person_key, frozenset())

    oldest_first = sorted(candidates, key=lambda pk: (rank(pk), pk))
    joined = [pk for pk in oldest_first if candidates[pk]]
    known = set(card.facts).union(*(facts_of(pk) for pk in joined))
    settled = bool(joined)

    fitting = [
        pk
        for pk in oldest_first
        if not candidates[pk]
        and not (known and pk in state.ambiguous)
        and not facts_contradict(known, facts_of(pk))
    ]
    probe, conflict = set(known), False
    for pk in fitting:
        if facts_contradict(probe, facts_of(pk)):
            conflict = True
        else:
            probe |= facts_of(pk)
    joined += [pk for pk in fitting if not conflict or not facts_of(pk)]

    survivor = min(joined, key=rank) if joined else new_person_key(card.card_id)
    merged_away = tuple(pk for pk in joined if pk != survivor)
    after_merge = ChainMap(dict.fromkeys(merged_away, survivor), dict(state.aliases))
    key_updates = {
        key: tuple(
            dict.fromkeys(
                [survivor]
                + [resolve_alias(after_merge, pk) for pk in state.persons_by_key.get(key, ())]
            )
        )
        for key in card.keys
    }
    return JoinDecision(
        survivor=survivor,
        founded=not joined,
        merged_away=merged_away,
        marks_ambiguous=conflict and not settled,
        key_updates=key_updates,
    )


def _candidates(card: CardEvidence, state: IndexState) -> dict[str, bool]:
    """Live persons the card may join, in the order found, each with: reached by a strong key."""
    found: dict[str, bool] = {}

    def consider(person_keys: Iterable[str], strong: bool) -> None:
        for pk in person_keys:
            live = resolve_alias(state.aliases, pk)
            found[live] = found.get(live, False) or strong

    previous = state.card_persons.get(card.card_id)
    if previous is not None:
        consider([previous], strong=True)
    for key in card.strong_keys:
        consider(state.persons_by_key.get(key, ()), strong=True)
    for key in card.company_keys:
        consider(state.persons_by_key.get(key, ()), strong=False)
    return found


@dataclass(frozen=True, slots=True)
class JoinStep:
    """One card joined by `MemoryPersonIndex`: the decision, and whether anything changed."""

    decision: JoinDecision
    changed: bool


class MemoryPersonIndex:
    """The person index in dicts: applies `decide_join` card by card, as the Lua does in Redis.

    Applying a decision: the merged-away persons become aliases of the survivor and hand it their
    cards and facts (their ambiguous flags go); the card's facts join the survivor's; a founded
    person gets the next creation rank; the key lists are replaced. A join changed something when
    the card moved to another person, persons were merged, or the card's content is new.
    """

    def __init__(self) -> None:
        self._persons_by_key: dict[str, tuple[str, ...]] = {}
        self._aliases: dict[str, str] = {}
        self._ranks: dict[str, int] = {}
        self._facts: dict[str, frozenset[str]] = {}
        self._ambiguous: set[str] = set()
        self._card_persons: dict[str, str] = {}
        self._person_cards: dict[str, set[str]] = {}
        self._contents: dict[str, object] = {}
        self._founded = 0

    @property
    def state(self) -> IndexState:
        """The index as it is now (a view: it follows later joins)."""
        return IndexState(
            persons_by_key=self._persons_by_key,
            aliases=self._aliases,
            ranks=self._ranks,
            facts=self._facts,
            ambiguous=self._ambiguous,
            card_persons=self._card_persons,
        )

    def join_card(self, card: Card) -> JoinStep:
        return self.join(CardEvidence.of(card), content=card)

    def join(self, card: CardEvidence, content: object = None) -> JoinStep:
        """Join one card; `content` is what the store keeps of it (a change to it is a change)."""
        decision = decide_join(card, self.state)
        survivor = decision.survivor
        previous = self._card_persons.get(card.card_id)
        if decision.founded:
            self._founded += 1
            self._ranks[survivor] = self._founded
        cards = self._person_cards.setdefault(survivor, set())
        facts = set(self._facts.get(survivor, ()))
        for pk in decision.merged_away:
            self._aliases[pk] = survivor
            for member in self._person_cards.pop(pk, set()):
                cards.add(member)
                self._card_persons[member] = survivor
            facts |= self._facts.pop(pk, frozenset())
            self._ambiguous.discard(pk)
        facts.update(card.facts)
        if facts:
            self._facts[survivor] = frozenset(facts)
        if decision.marks_ambiguous:
            self._ambiguous.add(survivor)
        self._persons_by_key.update(decision.key_updates)

        changed = previous != survivor or bool(decision.merged_away)
        if self._contents.get(card.card_id) != content:
            self._contents[card.card_id] = content
            changed = True
        cards.add(card.card_id)
        self._card_persons[card.card_id] = survivor
        return JoinStep(decision, changed)

    def person_of(self, card_id: str) -> str | None:
        """The live person a card belongs to."""
        pk = self._card_persons.get(card_id)
        return None if pk is None else resolve_alias(self._aliases, pk)
