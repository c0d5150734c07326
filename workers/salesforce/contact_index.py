"""Finding Contacts that already exist in Salesforce (not made by cardsync) for new persons.

Before cardsync creates a Contact it looks for one the org already has (the rules are in
pipeline/existing.py: by email, else by name at the person's existing Account). Exactly one
candidate is linked (our external ID is stamped on it, so the upsert updates it); several are not
guessed at: the person waits in `needs_review`.

Lookups cost few API calls: one `COUNT()` per refresh tells how many Contacts lack our external
ID; up to `max_indexed` of them are read once into Redis, beyond that each chunk sends one SOQL
query with every value escaped.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog

from pipeline.existing import ExistingMatch, match_existing_contact, name_key, person_name_key
from pipeline.models import Person
from pipeline.normalize import normalize_email
from workers.salesforce.gateway import SalesforceGateway
from workers.state.keys import Keys

log = structlog.get_logger(__name__)


def soql_quote(value: str) -> str:
    """A SOQL string literal: backslash and quote escaped, as Salesforce requires."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


class ContactIndex:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        gateway: SalesforceGateway,
        *,
        external_id_field: str,
        refresh_s: int,
        max_indexed: int,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._gateway = gateway
        self._ext = external_id_field
        self._refresh_s = refresh_s
        self._max_indexed = max_indexed

    def _fields(self) -> str:
        return "Id, Email, LastName, FirstName, AccountId"

    def ensure_fresh(self) -> str:
        """The lookup mode: "empty" (nothing to match), "index" (in Redis) or "query" (SOQL)."""
        meta = self._keys.contact_index_meta()
        current = self._redis.hgetall(meta)
        if current and time.time() - float(current["loaded_at"]) < self._refresh_s:
            return str(current["mode"])
        with self._redis.lock(meta + ":lock", timeout=600, blocking_timeout=300):
            current = self._redis.hgetall(meta)
            if current and time.time() - float(current["loaded_at"]) < self._refresh_s:
                return str(current["mode"])
            return self._load()

    def _load(self) -> str:
        count = int(
            self._gateway.query(f"SELECT COUNT() FROM Contact WHERE {self._ext} = null")[
                "totalSize"
            ]
        )
        by_email: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        mode = "empty" if count == 0 else ("index" if count <= self._max_indexed else "query")
        if mode == "index":
            soql = f"SELECT {self._fields()} FROM Contact WHERE {self._ext} = null"
            for record in self._gateway.query_all(soql):
                self._add(record, by_email, by_name)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.contact_index_email(), self._keys.contact_index_name())
        if by_email:
            pipe.hset(self._keys.contact_index_email(), mapping=_joined(by_email))
        if by_name:
            pipe.hset(self._keys.contact_index_name(), mapping=_joined(by_name))
        pipe.hset(
            self._keys.contact_index_meta(),
            mapping={"loaded_at": time.time(), "mode": mode, "contacts": count},
        )
        pipe.execute()
        log.info("contact_index_loaded", mode=mode, contacts=count)
        return mode

    @staticmethod
    def _add(
        record: dict[str, Any], by_email: dict[str, list[str]], by_name: dict[str, list[str]]
    ) -> None:
        email = normalize_email(record.get("Email") or "")
        if email:
            by_email.setdefault(email, []).append(record["Id"])
        if record.get("AccountId"):
            key = name_key(
                record.get("LastName") or "", record.get("FirstName") or "", record["AccountId"]
            )
            by_name.setdefault(key, []).append(record["Id"])

    def match(self, persons: list[Person], account_ids: dict[str, str]) -> dict[str, ExistingMatch]:
        """person key -> match, for the persons that have one (a whole chunk in one lookup)."""
        if not persons:
            return {}
        mode = self.ensure_fresh()
        if mode == "empty":
            return {}
        emails = sorted({e for p in persons if (e := normalize_email(p.get("email")))})
        names = sorted(
            {
                person_name_key(p, account_ids[p.person_key])
                for p in persons
                if account_ids.get(p.person_key)
            }
        )
        by_email: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        if mode == "index":
            linked = self._keys.contact_index_linked()
            for target, key, wanted in (
                (by_email, self._keys.contact_index_email(), emails),
                (by_name, self._keys.contact_index_name(), names),
            ):
                if wanted:
                    for value, ids in zip(wanted, self._redis.hmget(key, wanted), strict=True):
                        if ids:
                            target[value] = ids.split(",")
            taken = {i for ids in (*by_email.values(), *by_name.values()) for i in ids}
            if taken:
                gone = {
                    i
                    for i, m in zip(
                        sorted(taken), self._redis.smismember(linked, sorted(taken)), strict=True
                    )
                    if m
                }
                by_email = {k: [i for i in v if i not in gone] for k, v in by_email.items()}
                by_name = {k: [i for i in v if i not in gone] for k, v in by_name.items()}
        else:
            accounts = sorted(
                {account_ids[p.person_key] for p in persons if account_ids.get(p.person_key)}
            )
            conditions = []
            if emails:
                conditions.append(f"Email IN ({', '.join(soql_quote(e) for e in emails)})")
            if accounts:
                conditions.append(f"AccountId IN ({', '.join(soql_quote(a) for a in accounts)})")
            if conditions:
                soql = (
                    f"SELECT {self._fields()} FROM Contact WHERE {self._ext} = null "
                    f"AND ({' OR '.join(conditions)})"
                )
                for record in self._gateway.query_all(soql):
                    self._add(record, by_email, by_name)
        matches = {}
        for person in persons:
            found = match_existing_contact(
                person, account_ids.get(person.person_key, ""), by_email, by_name
            )
            if found is not None:
                matches[person.person_key] = found
        return matches

    def claim(self, links: dict[str, str]) -> dict[str, str]:
        """contact id -> person key; returns the ones this person may link (first claim wins)."""
        if not links:
            return {}
        pipe = self._redis.pipeline(transaction=True)
        for contact_id, person_key in links.items():
            pipe.hsetnx(self._keys.contact_links(), contact_id, person_key)
        pipe.hmget(self._keys.contact_links(), list(links))
        owners = pipe.execute()[-1]
        claimed = {
            c: pk for (c, pk), owner in zip(links.items(), owners, strict=True) if owner == pk
        }
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(self._keys.contact_index_linked(), *links)
        if claimed:
            pipe.hset(self._keys.person_links(), mapping={pk: c for c, pk in claimed.items()})
        pipe.execute()
        return claimed

    def linked_persons(self, person_keys: list[str]) -> set[str]:
        """Persons already linked to an existing Contact: never matched again."""
        if not person_keys:
            return set()
        found = self._redis.hmget(self._keys.person_links(), person_keys)
        return {pk for pk, contact in zip(person_keys, found, strict=True) if contact}


def _joined(groups: dict[str, list[str]]) -> dict[str, str]:
    return {key: ",".join(ids) for key, ids in groups.items()}


def stamp_external_ids(
    gateway: SalesforceGateway, external_id_field: str, links: dict[str, str]
) -> dict[str, str]:
    """Write our external ID on each linked Contact (contact id -> person key); returns the
    failures (contact id -> error codes)."""
    if not links:
        return {}
    results = gateway.update_collection(
        "Contact", [{"Id": cid, external_id_field: pk} for cid, pk in links.items()]
    )
    failures: dict[str, str] = {}
    for cid, result in zip(links, results, strict=True):
        if not result.get("success"):
            codes = ",".join(e.get("statusCode", "") for e in result.get("errors", []))
            failures[cid] = codes or "failed"
    return failures
