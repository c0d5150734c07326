"""The map stage's orchestration: load what the decisions need, decide (pipeline/), store, forward.

The decisions themselves are pure: the owner (pipeline/owners.py), the Account
(pipeline/accounts.py), an existing Contact (pipeline/existing.py) and the records
(pipeline/records.py). This module reads and writes the map stage's stores around them.
"""

from __future__ import annotations

import json
import time

import structlog

from pipeline.accounts import account_external_id, decide_account
from pipeline.existing import (
    ExistingMatch,
    ambiguous_account_match,
    links_wanted,
    needs_review_entry,
    review_notes,
)
from pipeline.models import Person, SyncRecord
from pipeline.normalize import normalize_company
from pipeline.owners import OwnerDecision, SansanOwner, resolve_owner
from pipeline.records import account_record, contact_record
from workers.runtime import Runtime
from workers.salesforce.contact_index import stamp_external_ids
from workers.state.person_index import LoadedPerson
from workers.state.writer_buffer import BufferedRecord

log = structlog.get_logger(__name__)


def owner_of(loaded: LoadedPerson) -> SansanOwner:
    p = loaded.person
    return SansanOwner(user_id=p.owner_id, email=p.owner_email, name=p.owner_name)


def resolve_records(
    rt: Runtime,
    persons: list[LoadedPerson],
    import_id: str,
    *,
    match_existing_records: bool = True,
) -> list[BufferedRecord]:
    """Owner and Account for each person, then the Account (if new) and Contact records to write."""
    if not persons:
        return []
    sf = rt.settings.salesforce
    directory = rt.directory.get()
    overrides = rt.owners.overrides()
    owners = {lp.person.person_key: owner_of(lp) for lp in persons}
    initial = rt.owners.in_initial_mapping(list(owners.values()), import_id)
    decisions: dict[str, tuple[SansanOwner, OwnerDecision]] = {}

    rt.accounts.ensure_fresh()
    company_keys = {
        lp.person.person_key: normalize_company(lp.person.get("company_name")).key for lp in persons
    }
    existing = rt.accounts.lookup(list(company_keys.values()))
    keys = dict.fromkeys(company_keys.values())
    ours = [account_external_id(k) for k in keys if k and k not in existing]
    created = rt.ledger.salesforce_ids("Account", ours)

    review: set[str] = set()
    if match_existing_records:  # off for the preview, which must not write anything
        review = match_existing_contacts(
            rt, persons, {pk: existing.get(k, "") for pk, k in company_keys.items()}
        )
        review |= review_ambiguous_accounts(rt, persons, company_keys)

    out: list[BufferedRecord] = []
    for lp in persons:
        person = lp.person
        owner = owners[person.person_key]
        decision = resolve_owner(
            owner,
            directory,
            overrides,
            in_initial_mapping=initial.get(owner.key, False),
            auto_map_new_users=rt.settings.pipeline.auto_map_new_users,
        )
        if owner.key:
            decisions[owner.key] = (owner, decision)
        account = decide_account(company_keys[person.person_key], existing, created)
        link = account.link
        if account.create and link is not None:
            mine = account_record(
                person,
                rt.field_mapping,
                account=link,
                external_id_field=sf.account_external_id_field,
            )
            # Every person of the company asks; the first asker's record is the one written.
            claimed = rt.accounts.claim(
                link.company_key, json.dumps(mine.to_dict(), ensure_ascii=False)
            )
            out.append(BufferedRecord(SyncRecord.from_dict(json.loads(claimed)), 0))
        if person.person_key in review:
            continue  # several existing Contacts could be this person: write nothing, ask a human
        out.append(
            BufferedRecord(
                contact_record(
                    person,
                    rt.field_mapping,
                    external_id_field=sf.contact_external_id_field,
                    owner_id=decision.user_id,
                    account=link,
                    account_external_id_field=sf.account_external_id_field,
                    import_ids=lp.import_ids,
                ),
                lp.version,
            )
        )
    rt.owners.record_seen(decisions)
    return out


def match_existing_contacts(
    rt: Runtime, persons: list[LoadedPerson], existing_account_ids: dict[str, str]
) -> set[str]:
    """Link new persons to Contacts the org already has; returns the persons needing review.

    Only persons cardsync has never written are looked up. One match: our external ID is stamped
    on that Contact now, before the person's upsert is buffered, so the upsert updates it.
    """
    ext_field = rt.settings.salesforce.contact_external_id_field
    keys = [lp.person.person_key for lp in persons]
    known = set(rt.ledger.salesforce_ids("Contact", keys)) | rt.contacts.linked_persons(keys)
    new = [lp.person for lp in persons if lp.person.person_key not in known]
    matches = rt.contacts.match(new, existing_account_ids)
    claimed = rt.contacts.claim(links_wanted(matches))
    failures = stamp_external_ids(rt.gateway, ext_field, claimed)
    people = {p.person_key: p for p in new}
    notes = review_notes(matches, claimed, failures)
    review = {pk: _review_json(matches[pk], people[pk], note) for pk, note in notes.items()}
    pipe = rt.redis.pipeline(transaction=False)
    if review:
        pipe.hset(rt.keys.needs_review(), mapping=review)
    resolved = [pk for pk in keys if pk not in review]
    if resolved:
        pipe.hdel(rt.keys.needs_review(), *resolved)
    pipe.execute()
    if claimed:
        log.info("contacts_linked", linked=len(claimed) - len(failures), failed=len(failures))
    return set(review)


def review_ambiguous_accounts(
    rt: Runtime, persons: list[LoadedPerson], company_keys: dict[str, str]
) -> set[str]:
    """Persons whose company matches several existing Accounts: not guessed, sent to review."""
    ambiguous = rt.accounts.ambiguous(list(company_keys.values()))
    review = {
        lp.person.person_key: _review_json(ambiguous_account_match(ambiguous[key]), lp.person)
        for lp in persons
        if (key := company_keys[lp.person.person_key]) in ambiguous
    }
    if review:
        rt.redis.hset(rt.keys.needs_review(), mapping=review)
    return set(review)


def _review_json(match: ExistingMatch, person: Person, note: str = "") -> str:
    entry = needs_review_entry(match, person, note=note, at=time.time())
    return json.dumps(entry, ensure_ascii=False)
