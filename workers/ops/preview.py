"""Preview: ingest, merge and map a card file without writing anything to Salesforce.

The merge runs the real PersonIndex on a throwaway local redis-server, the map stage the real
owner and Account rules against Salesforce read-only (the configured org, or a local emulator
seeded with --salesforce-seed). What would happen is written as CSV files for review.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config.settings import Settings, load_settings
from demo.local_redis import start_local_redis
from demo.local_salesforce import emulator_settings, start_local_salesforce
from pipeline.errors import BadInputError
from pipeline.models import Card, Person, Reject
from workers.salesforce.contact_index import ExistingMatch, soql_quote
from workers.sources.csv_file import CardFile

# Persons per SOQL lookup: the query's IN lists, sent in a GET URL, stay a few kB long.
QUERY_CHUNK = 200
PREVIEW_IMPORT = "preview"
PLAN_HEADER = (
    "person_key",
    "action",
    "target_ids",
    "owner_id",
    "owner_username",
    "account_id",
    "account_external_id",
    "company",
    "name",
    "email",
    "card_ids",
)


@dataclass
class PreviewSummary:
    rows_read: int
    cards: int
    rejected: int
    persons: int
    create: int
    update: int
    link: int
    needs_review: int
    accounts_existing: int
    accounts_new: int
    elapsed_s: float
    out_dir: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        width = max(len(k) for k in self.to_dict())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.to_dict().items())


@contextlib.contextmanager
def _preview_settings(work_dir: Path, salesforce_seed: Path | None) -> Iterator[Settings]:
    """Settings on a throwaway Redis, and on the configured org or a local emulator we start."""
    base = load_settings()
    server = start_local_redis(directory=work_dir / "redis")
    emulator = None
    try:
        salesforce = base.salesforce
        if salesforce_seed is not None or not salesforce.configured:
            try:
                emulator = start_local_salesforce(
                    seed=salesforce_seed, data_dir=work_dir / "emulator"
                )
            except ValueError as error:  # a seed that is not JSON, or that names unknown objects
                raise BadInputError(f"--salesforce-seed: {error}") from None
            salesforce = emulator_settings(emulator, salesforce)
        yield base.model_copy(update={"redis_url": server.url, "salesforce": salesforce})
    finally:
        if emulator is not None:
            emulator.stop()
        server.stop()


def _read(file: Path) -> tuple[int, list[Card], list[Reject]]:
    from pipeline.validation import validate_row

    card_file = CardFile(file)  # a bad encoding or header raises here, before anything starts
    cards: list[Card] = []
    rejects: list[Reject] = []
    rows = 0
    for item in card_file.rows():
        rows += 1
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        outcome = validate_row(item.values, source=card_file.source, line=item.line)
        if isinstance(outcome, Reject):
            rejects.append(outcome)
        else:
            cards.append(outcome)
    return rows, cards, rejects


def match_existing(
    rt: Any, persons: list[Person], account_ids: dict[str, str]
) -> dict[str, ExistingMatch]:
    """Per person: our own Contact (update); else what the pipeline's matching would find
    (`ContactIndex.match`: link one, needs_review several); else create. Nothing is written.
    `account_ids`: person key -> existing Account Id.
    """
    ext_field = rt.settings.salesforce.contact_external_id_field
    out: dict[str, ExistingMatch] = {}
    for start in range(0, len(persons), QUERY_CHUNK):
        chunk = persons[start : start + QUERY_CHUNK]
        by_key: dict[str, list[str]] = {}
        for record in _query_in(rt, f"Id, {ext_field}", ext_field, [p.person_key for p in chunk]):
            by_key.setdefault(record[ext_field], []).append(record["Id"])
        rest = []
        for person in chunk:
            ids = tuple(by_key.get(person.person_key, ()))
            if ids:
                action = "update" if len(ids) == 1 else "needs_review"
                out[person.person_key] = ExistingMatch(action, ids, "ours")
            else:
                rest.append(person)
        found = rt.contacts.match(rest, account_ids)
        for person in rest:
            out[person.person_key] = found.get(person.person_key) or ExistingMatch("create", (), "")
    return out


def _query_in(rt: Any, fields: str, field: str, values: list[str]) -> list[dict[str, Any]]:
    values = list(dict.fromkeys(v for v in values if v))
    if not values:
        return []
    literals = ", ".join(soql_quote(v) for v in values)
    soql = f"SELECT {fields} FROM Contact WHERE {field} IN ({literals})"
    return list(rt.gateway.query_all(soql))


def run_preview(
    file: Path, out_dir: Path, *, salesforce_seed: Path | None = None
) -> PreviewSummary:
    """Ingest, merge and map `file` without writing; CSVs of the outcome go to `out_dir`."""
    from workers.runtime import Runtime
    from workers.stages.resolver import resolve_records

    started = time.monotonic()
    rows, cards, rejects = _read(file)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="cardsync-preview-") as tmp,
        _preview_settings(Path(tmp), salesforce_seed) as settings,
    ):
        rt = Runtime(settings)
        # A throwaway index knows no earlier import: this file is the first, so its Sansan
        # users form the initial owner mapping, as they would on a fresh installation.
        rt.owners.begin_import(PREVIEW_IMPORT)
        index = rt.persons
        size = settings.pipeline.chunk_size  # as the pipeline's queue messages carry them
        for start in range(0, len(cards), size):
            index.join(cards[start : start + size], PREVIEW_IMPORT)
        card_person = (
            rt.redis.hmget(rt.keys.card_person(), [c.card_id for c in cards]) if cards else []
        )
        person_of = [index.resolve(pk) for pk in card_person]
        live = list(dict.fromkeys(person_of))
        loaded = index.load(live)
        records = []
        for start in range(0, len(live), size):
            chunk = [loaded[pk] for pk in live[start : start + size] if pk in loaded]
            planned = resolve_records(rt, chunk, PREVIEW_IMPORT, match_existing_records=False)
            records.extend(r.record for r in planned)
        account_ids = {
            r.external_id: r.payload.get("AccountId", "") for r in records if r.sobject == "Contact"
        }
        existing = match_existing(
            rt, [loaded[pk].person for pk in live if pk in loaded], account_ids
        )
        usernames = {u.id: u.username for u in rt.directory.get().users_by_id.values()}
        rt.redis.close()

    with (out_dir / "persons.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("card_id", "person_key"))
        writer.writerows(zip((c.card_id for c in cards), person_of, strict=True))

    actions = {"create": 0, "update": 0, "link": 0, "needs_review": 0}
    new_accounts = {r.external_id for r in records if r.sobject == "Account"}
    existing_accounts = set()
    with (out_dir / "plan.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(PLAN_HEADER)
        for record in records:
            if record.sobject != "Contact":
                continue
            payload = record.payload
            match = existing[record.external_id]
            actions[match.action] += 1
            account_ext = (payload.get("Account") or {}).get(
                settings.salesforce.account_external_id_field, ""
            )
            if payload.get("AccountId"):
                existing_accounts.add(payload["AccountId"])
            person = loaded[record.external_id].person
            writer.writerow(
                (
                    record.external_id,
                    match.action,
                    ";".join(match.target_ids),
                    payload.get("OwnerId", ""),
                    usernames.get(payload.get("OwnerId", ""), ""),
                    payload.get("AccountId", ""),
                    account_ext,
                    person.get("company_name"),
                    f"{person.get('last_name')} {person.get('first_name')}".strip(),
                    person.get("email"),
                    ";".join(record.card_ids),
                )
            )

    with (out_dir / "rejects.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("card_id", "line", "field", "reason"))
        writer.writerows((r.card_id, r.line, r.field, r.reason) for r in rejects)

    return PreviewSummary(
        rows_read=rows,
        cards=len(cards),
        rejected=len(rejects),
        persons=len(live),
        create=actions["create"],
        update=actions["update"],
        link=actions["link"],
        needs_review=actions["needs_review"],
        accounts_existing=len(existing_accounts),
        accounts_new=len(new_accounts),
        elapsed_s=round(time.monotonic() - started, 2),
        out_dir=str(out_dir),
    )
