"""Mapping resolution for a set of persons: owner, Account, and the records that represent them."""

from __future__ import annotations

import json

import structlog

from pipeline.models import SyncRecord
from pipeline.normalize import normalize_company
from pipeline.owners import OwnerDecision, SansanOwner, resolve_owner
from pipeline.records import (
    AccountLink,
    account_external_id,
    account_record,
    contact_record,
    merged_marker_record,
)
from workers.runtime import Runtime
from workers.salesforce.contact_index import ExistingMatch, needs_review_entry, stamp_external_ids
from workers.state.person_index import LoadedPerson
from workers.state.writer_buffer import MERGED_MARKER_VERSION, BufferedRecord

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
    ours = {
        key: account_external_id(key)
        for key in company_keys.values()
        if key and key not in existing
    }
    created = rt.ledger.salesforce_ids("Account", list(ours.values()))

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
        key = company_keys[person.person_key]
        link: AccountLink | None = None
        if key in existing:
            link = AccountLink(key, account_id=existing[key])
        elif key:
            ext = ours[key]
            # Always by external ID, written or not, so a person's payload (and its hash in the
            # ledger) does not change when its Account gets an Id: replays stay free.
            link = AccountLink(key, external_id=ext)
            if ext not in created:
                mine = account_record(
                    person,
                    rt.field_mapping,
                    account=link,
                    external_id_field=sf.account_external_id_field,
                )
                claimed = rt.accounts.claim(key, json.dumps(mine.to_dict(), ensure_ascii=False))
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
    people = {p.person_key: p for p in new}
    review: dict[str, str] = {}
    wanted = {m.target_ids[0]: pk for pk, m in matches.items() if m.action == "link"}
    claimed = rt.contacts.claim(wanted)
    failures = stamp_external_ids(rt.gateway, ext_field, claimed)
    for pk, match in matches.items():
        target = match.target_ids[0]
        if match.action == "needs_review":
            review[pk] = needs_review_entry(match, people[pk])
        elif target not in claimed:
            review[pk] = needs_review_entry(match, people[pk], "linked to another person")
        elif target in failures:
            review[pk] = needs_review_entry(match, people[pk], f"link failed: {failures[target]}")
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
        lp.person.person_key: needs_review_entry(
            ExistingMatch("needs_review", tuple(ambiguous[key]), "account"), lp.person
        )
        for lp in persons
        if (key := company_keys[lp.person.person_key]) in ambiguous
    }
    if review:
        rt.redis.hset(rt.keys.needs_review(), mapping=review)
    return set(review)


def merged_away_records(rt: Runtime, merged_into: dict[str, str]) -> list[BufferedRecord]:
    """Persons that became part of another: drop what waits for them, mark what was written."""
    if not merged_into:
        return []
    sf = rt.settings.salesforce
    rt.buffer.discard("Contact", list(merged_into))
    written = rt.ledger.salesforce_ids("Contact", list(merged_into))
    return [
        BufferedRecord(
            merged_marker_record(
                external_id_field=sf.contact_external_id_field,
                external_id=gone,
                survivor=rt.persons.resolve(merged_into[gone]),
                merged_into_field=sf.merged_into_field,
            ),
            MERGED_MARKER_VERSION,
        )
        for gone in written
    ]
