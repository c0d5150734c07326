"""Every Redis key cardsync owns, in one place, under one namespace (dramatiq keeps its own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    ns: str = "cardsync"

    # name-merge
    def match_key(self) -> str:  # hash: match key -> person key
        return f"{self.ns}:pi:key"

    def card_person(self) -> str:  # hash: card id -> person key it joined
        return f"{self.ns}:pi:card"

    def cards(self) -> str:  # hash: card id -> card JSON
        return f"{self.ns}:cards"

    def card_import(self) -> str:  # hash: card id -> import id that last brought it
        return f"{self.ns}:card_import"

    def person_cards(self, person_key: str) -> str:  # set of card ids
        return f"{self.ns}:pi:p:{person_key}:cards"

    def person_alias(self) -> str:  # hash: merged person key -> survivor
        return f"{self.ns}:pi:alias"

    def person_seq(self) -> str:  # hash: person key -> creation sequence (older survives)
        return f"{self.ns}:pi:seq"

    def person_version(self) -> str:  # hash: person key -> version, bumped on every change
        return f"{self.ns}:pi:version"

    def person_counter(self) -> str:
        return f"{self.ns}:pi:counter"

    # writer
    def pending(self, sobject: str) -> str:
        return f"{self.ns}:wb:{sobject}:pending"

    def pending_since(self, sobject: str) -> str:
        return f"{self.ns}:wb:{sobject}:since"

    def inflight(self, sobject: str) -> str:
        return f"{self.ns}:wb:{sobject}:inflight"

    def lease(self, sobject: str) -> str:
        return f"{self.ns}:wb:{sobject}:lease"

    def writer_merged(self) -> str:  # hash: merged person key -> survivor (from merge notices)
        return f"{self.ns}:wb:merged"

    def flush_tick(self) -> str:
        return f"{self.ns}:wb:tick"

    def ledger(self, sobject: str) -> str:  # hash: external id -> {id, version, hash}
        return f"{self.ns}:ledger:{sobject}"

    def record_errors(self) -> str:  # hash: sobject/external id -> error JSON
        return f"{self.ns}:record_errors"

    def writer_breaker(self) -> str:  # hash: until_ms, reason, opened_ms, trips
        return f"{self.ns}:wb:breaker"

    def calls_in_flight(self) -> str:  # zset: call token -> lease end (ms)
        return f"{self.ns}:sf:calls"

    def bulk_jobs(self) -> str:  # hash: Bulk API 2.0 job id -> JSON {sobject, records, state}
        return f"{self.ns}:sf:bulk_jobs"

    def record_retries(self) -> str:  # hash: sobject/external id -> transient failures so far
        return f"{self.ns}:wb:record_retries"

    def stats(self) -> str:
        return f"{self.ns}:stats"

    # mapping resolution
    def directory(self) -> str:
        return f"{self.ns}:sf:directory"

    def directory_lock(self) -> str:
        return f"{self.ns}:sf:directory:lock"

    def account_index(self) -> str:  # hash: company key -> Account id(s)
        return f"{self.ns}:sf:accounts"

    def account_index_meta(self) -> str:
        return f"{self.ns}:sf:accounts:meta"

    def contact_index_meta(self) -> str:
        return f"{self.ns}:sf:contacts:meta"

    def contact_index_email(self) -> str:  # hash: email -> Contact ids (not ours)
        return f"{self.ns}:sf:contacts:email"

    def contact_index_name(self) -> str:  # hash: "name|AccountId" -> Contact ids (not ours)
        return f"{self.ns}:sf:contacts:name"

    def contact_index_linked(self) -> str:  # set: Contact ids we linked since the last read
        return f"{self.ns}:sf:contacts:linked"

    def contact_links(self) -> str:  # hash: existing Contact id -> person key linked to it
        return f"{self.ns}:sf:contacts:links"

    def person_links(self) -> str:  # hash: person key -> existing Contact id it was linked to
        return f"{self.ns}:sf:contacts:person_links"

    def needs_review(self) -> str:  # hash: person key -> candidates JSON
        return f"{self.ns}:needs_review"

    def account_claims(self) -> str:  # hash: company key -> person key that asked for the Account
        return f"{self.ns}:sf:account_claims"

    def owner_overrides(self) -> str:  # hash: Sansan user key -> Salesforce user id
        return f"{self.ns}:owners:overrides"

    def owner_initial(self) -> str:  # set: Sansan user keys present when the mapping was taken
        return f"{self.ns}:owners:initial"

    def owner_initial_import(self) -> str:
        return f"{self.ns}:owners:initial_import"

    def owners_seen(self) -> str:  # hash: Sansan user key -> JSON {email, name, decision}
        return f"{self.ns}:owners:seen"

    # imports
    def imports(self) -> str:  # zset: import id -> start time
        return f"{self.ns}:imports"

    def import_info(self, import_id: str) -> str:
        return f"{self.ns}:import:{import_id}"

    def import_rejects(self, import_id: str) -> str:  # hash: "line" -> reject JSON
        return f"{self.ns}:import:{import_id}:rejects"

    def import_merged(self, import_id: str) -> str:
        return f"{self.ns}:import:{import_id}:merged"

    def import_written(self, import_id: str) -> str:
        return f"{self.ns}:import:{import_id}:written"

    def import_failed(self, import_id: str) -> str:
        return f"{self.ns}:import:{import_id}:failed"
