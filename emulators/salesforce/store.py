"""SQLite storage of the emulated org: one table per sObject, validated writes, SOQL reads.

One connection guarded by one lock serializes every read and write, so concurrent upserts of the
same external id can never create two records. A write call validates each record, applies the
valid ones in one transaction, and rolls everything back when `all_or_none` is set and any record
failed, answering like Salesforce with one `WriteResult` per record, in order.

Helpers for tests and tools: `query_records("Contact", Email="a@b.jp")` returns plain dicts of all
fields; `soql("SELECT ...")` returns the records of a SOQL query (every page); `count("Contact")`;
`dump(directory)` writes one JSON Lines file per sObject.
"""

from __future__ import annotations

import json
import re
import sqlite3
import string
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from emulators.salesforce.errors import ApiError, RecordError, invalid_type, json_parser_error
from emulators.salesforce.ids import make_id, normalize_id
from emulators.salesforce.schema import (
    NON_OWNER_LICENSES,
    FieldDef,
    FieldType,
    Schema,
    SObjectDef,
    standard_schema,
)
from emulators.salesforce.soql import compile_query, parse, quote
from emulators.salesforce.values import ValueParseError, from_json, now_timestamp, to_api

ORG_KEY_PREFIX = "00D"
# Loose on purpose: Salesforce accepts most RFC 5322 local parts but only ASCII.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# SQLite's NOCASE folds ASCII letters only; Python-side comparisons must agree with it.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)


@dataclass(slots=True)
class WriteOp:
    """One record to write. `values` is the JSON payload (field names in any case)."""

    kind: Literal["create", "update", "upsert"]
    sobject: str
    values: dict[str, Any]
    record_id: str | None = None  # update
    external_field: str | None = None  # upsert
    external_value: Any = None  # upsert


@dataclass(slots=True)
class WriteResult:
    id: str | None
    success: bool
    errors: list[RecordError] = field(default_factory=list)
    created: bool | None = None
    # Upsert only: the ids when the external id matched several records (HTTP 300 alone).
    matches: list[str] = field(default_factory=list)

    def as_collection_item(self, include_created: bool) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if self.id is not None:
            item["id"] = self.id
        item["success"] = self.success
        item["errors"] = [error.as_collection_item() for error in self.errors]
        if include_created and self.success:
            item["created"] = bool(self.created)
        return item


@dataclass(slots=True)
class _Prepared:
    """A write after payload parsing: coerced values and the errors found without the database."""

    op: WriteOp
    obj: SObjectDef
    values: dict[str, Any] = field(default_factory=dict)
    # relationship name -> (reference field, target lookup field, lookup value)
    references: dict[str, tuple[FieldDef, FieldDef, Any]] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    external: FieldDef | None = None
    external_value: Any = None


class Store:
    """The org's records in one SQLite file; every public method is thread-safe."""

    def __init__(self, path: Path, schema: Schema | None = None) -> None:
        self.path = path
        self.schema = schema or standard_schema()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, cached_statements=512
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._next_counter: int | None = None
        self._sql: dict[tuple[str, str], str] = {}
        self._migrate()
        self.org_id = self._ensure_org_id()

    # Setup -----------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS _sequence (prefix TEXT PRIMARY KEY, "
                "next INTEGER NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS _credential (user_id TEXT PRIMARY KEY, "
                "salt TEXT NOT NULL, password_hash TEXT NOT NULL, security_token TEXT)"
            )
            for obj in self.schema:
                self._migrate_object(obj)

    def _migrate_object(self, obj: SObjectDef) -> None:
        table = quote(obj.name)
        columns = ", ".join(
            f"{quote(f.name)} {f.sql_type}" + (" PRIMARY KEY" if f.name == "Id" else "")
            for f in obj.fields
        )
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        # A state file from an older schema gains the fields added since.
        existing = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        for f in obj.fields:
            if f.name not in existing:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {quote(f.name)} {f.sql_type}")
        for f in obj.fields:
            index = quote(f"ix_{obj.name}_{f.name}")
            column = f"{quote(f.name)} COLLATE {f.collation}"
            if f.unique:
                self._db.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} ({column}) "
                    'WHERE "IsDeleted" = 0'
                )
            elif f.external_id or f.id_lookup or f.type == FieldType.REFERENCE:
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({column})")

    def _ensure_org_id(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM _meta WHERE key = 'org_id'").fetchone()
            if row is not None:
                return str(row[0])
            # Counter 0 is never handed to a record, so the org id shares no suffix with one.
            org_id = make_id(ORG_KEY_PREFIX, 62**9 - 1)
            self.set_meta("org_id", org_id)
            return org_id

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO _meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Reads -----------------------------------------------------------------------------------

    def object(self, sobject: str) -> SObjectDef:
        obj = self.schema.get(sobject)
        if obj is None:
            raise invalid_type(sobject)
        return obj

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def query(
        self, soql: str, *, include_deleted: bool = False, version: str = "62.0"
    ) -> tuple[int, list[dict[str, Any]]]:
        """totalSize and every record of a SOQL query, shaped as the REST API returns them."""
        compiled = compile_query(parse(soql), self.schema, include_deleted=include_deleted)
        rows = self.execute(compiled.sql, compiled.params)
        if compiled.kind == "count":
            return int(rows[0][0]), []
        return len(rows), [compiled.shape(row, version) for row in rows]

    def soql(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.query(soql, include_deleted=include_deleted)[1]

    def _row_to_record(self, obj: SObjectDef, row: Sequence[Any]) -> dict[str, Any]:
        return {f.name: to_api(f, value) for f, value in zip(obj.fields, row, strict=True)}

    def _select_all(self, obj: SObjectDef) -> str:
        sql = self._sql.get(("select", obj.name))
        if sql is None:
            columns = ", ".join(quote(f.name) for f in obj.fields)
            sql = self._sql[("select", obj.name)] = f"SELECT {columns} FROM {quote(obj.name)}"
        return sql

    def _insert_sql(self, obj: SObjectDef) -> str:
        sql = self._sql.get(("insert", obj.name))
        if sql is None:
            columns = ", ".join(quote(f.name) for f in obj.fields)
            marks = ", ".join("?" for _ in obj.fields)
            sql = f"INSERT INTO {quote(obj.name)} ({columns}) VALUES ({marks})"
            self._sql[("insert", obj.name)] = sql
        return sql

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """Every field of a record (deleted ones too: see IsDeleted), or None."""
        obj = self.object(sobject)
        rows = self.execute(f'{self._select_all(obj)} WHERE "Id" = ?', (record_id,))
        return self._row_to_record(obj, rows[0]) if rows else None

    def query_records(
        self, sobject: str, *, include_deleted: bool = False, **equals: Any
    ) -> list[dict[str, Any]]:
        """Records whose fields equal the given values (text case-insensitively), oldest first."""
        obj = self.object(sobject)
        clauses = [] if include_deleted else ['"IsDeleted" = 0']
        params: list[Any] = []
        for name, value in equals.items():
            fd = obj.field(name)
            if fd is None:
                raise KeyError(f"{obj.name} has no field {name}")
            if value is None:
                clauses.append(f"{quote(fd.name)} IS NULL")
                continue
            clauses.append(f"{quote(fd.name)} = ? COLLATE {fd.collation}")
            params.append(int(value) if isinstance(value, bool) else value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.execute(f"{self._select_all(obj)}{where} ORDER BY rowid", params)
        return [self._row_to_record(obj, row) for row in rows]

    def count(self, sobject: str, *, include_deleted: bool = False) -> int:
        obj = self.object(sobject)
        where = "" if include_deleted else ' WHERE "IsDeleted" = 0'
        return int(self.execute(f"SELECT COUNT(*) FROM {quote(obj.name)}{where}")[0][0])

    def find_ids(self, obj: SObjectDef, fd: FieldDef, value: Any) -> list[str]:
        """Ids of live records whose `fd` equals `value` (as the field compares)."""
        rows = self.execute(
            f'SELECT "Id" FROM {quote(obj.name)} WHERE {quote(fd.name)} = ? '
            f'COLLATE {fd.collation} AND "IsDeleted" = 0 ORDER BY rowid',
            (value,),
        )
        return [str(row[0]) for row in rows]

    def find_records(self, obj: SObjectDef, fd: FieldDef, value: Any) -> list[dict[str, Any]]:
        """Live records whose `fd` equals `value`, every field, oldest first."""
        rows = self.execute(
            f"{self._select_all(obj)} WHERE {quote(fd.name)} = ? COLLATE {fd.collation} "
            'AND "IsDeleted" = 0 ORDER BY rowid',
            (value,),
        )
        return [self._row_to_record(obj, row) for row in rows]

    def user_by_username(self, username: str) -> dict[str, Any] | None:
        """A live User with its license name (key "LicenseName"), matched case-insensitively."""
        return self._user('u."Username" = ? COLLATE NOCASE', username)

    def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        return self._user('u."Id" = ?', user_id)

    def _user(self, condition: str, value: str) -> dict[str, Any] | None:
        rows = self.execute(
            'SELECT u."Id", u."Username", u."Email", u."FirstName", u."LastName", u."Name", '
            'u."IsActive", l."Name" FROM "User" u '
            'LEFT JOIN "Profile" p ON p."Id" = u."ProfileId" '
            'LEFT JOIN "UserLicense" l ON l."Id" = p."UserLicenseId" '
            f'WHERE {condition} AND u."IsDeleted" = 0',
            (value,),
        )
        if not rows:
            return None
        keys = (
            "Id",
            "Username",
            "Email",
            "FirstName",
            "LastName",
            "Name",
            "IsActive",
            "LicenseName",
        )
        user = dict(zip(keys, rows[0], strict=True))
        user["IsActive"] = bool(user["IsActive"])
        return user

    def get_credential(self, user_id: str) -> tuple[str, str, str | None] | None:
        rows = self.execute(
            "SELECT salt, password_hash, security_token FROM _credential WHERE user_id = ?",
            (user_id,),
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def set_credential(
        self, user_id: str, salt: str, password_hash: str, security_token: str | None
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO _credential (user_id, salt, password_hash, security_token) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET salt = excluded.salt, "
                "password_hash = excluded.password_hash, security_token = excluded.security_token",
                (user_id, salt, password_hash, security_token),
            )

    def iter_records(self, sobject: str) -> Iterator[dict[str, Any]]:
        """Every live record of one sObject, oldest first."""
        obj = self.object(sobject)
        rows = self.execute(f'{self._select_all(obj)} WHERE "IsDeleted" = 0 ORDER BY rowid')
        for row in rows:
            yield self._row_to_record(obj, row)

    def dump(self, directory: Path) -> dict[str, int]:
        """Write DIR/<SObject>.jsonl (every live record, all fields); counts per sObject."""
        directory.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for obj in self.schema:
            written = 0
            with (directory / f"{obj.name}.jsonl").open("w", encoding="utf-8") as out:
                for record in self.iter_records(obj.name):
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    written += 1
            counts[obj.name] = written
        return counts

    # Writes ----------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _new_id(self, obj: SObjectDef) -> str:
        # One counter for all objects, so no two records share the part after the key prefix.
        if self._next_counter is None:
            row = self._db.execute("SELECT next FROM _sequence WHERE prefix = '*'").fetchone()
            self._next_counter = int(row[0]) if row else 1
        counter = self._next_counter
        self._next_counter = counter + 1
        self._db.execute(
            "INSERT INTO _sequence (prefix, next) VALUES ('*', ?) "
            "ON CONFLICT(prefix) DO UPDATE SET next = excluded.next",
            (counter + 1,),
        )
        return make_id(obj.key_prefix, counter)

    def write(
        self,
        ops: Sequence[WriteOp],
        *,
        all_or_none: bool = False,
        actor_id: str | None = None,
        system: bool = False,
    ) -> list[WriteResult]:
        """Create, update or upsert records; one result per op, in order.

        Raises ApiError for what fails the whole request in Salesforce (unknown sObject type,
        a value that is not of its field's type). `system` lets seeds write read-only fields.
        """
        prepared = [self._prepare(op) for op in ops]
        self._flag_duplicate_external_ids(prepared)
        try:
            with self._lock, self._transaction():
                # Owners repeat across a batch; look each one up once.
                users: dict[str, dict[str, Any] | None] = {}
                results = [_Writer(self, item, actor_id, system, users).run() for item in prepared]
                if all_or_none and not all(result.success for result in results):
                    raise _Rollback(
                        [
                            result
                            if not result.success
                            else WriteResult(None, False, [_ROLLED_BACK])
                            for result in results
                        ]
                    )
        except _Rollback as rollback:
            return rollback.results
        return results

    def _prepare(self, op: WriteOp) -> _Prepared:
        obj = self.object(op.sobject)
        item = _Prepared(op, obj)
        for key, raw in op.values.items():
            if key == "attributes":
                continue
            fd = obj.field(key)
            if fd is None:
                reference = obj.relationship(key)
                if reference is not None and isinstance(raw, dict):
                    self._prepare_reference(item, reference, raw)
                else:
                    item.errors.append(
                        RecordError(
                            "INVALID_FIELD",
                            f"No such column '{key}' on sobject of type {obj.name}",
                        )
                    )
                continue
            if fd.name == "Id":
                if op.kind == "create":
                    item.errors.append(
                        RecordError(
                            "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call"
                        )
                    )
                continue
            item.values[fd.name] = self._coerce(fd, raw)
        if op.kind == "upsert":
            external = obj.field(op.external_field or "")
            if external is None or not (external.external_id or external.name == "Id"):
                raise ApiError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: "
                    f"{op.external_field}",
                )
            item.external = external
            value = self._coerce(external, op.external_value)
            item.external_value = value
            if value is None:
                item.errors.append(
                    RecordError("MISSING_ARGUMENT", f"{external.name} not specified")
                )
            else:
                item.values[external.name] = value
        for name, value in item.values.items():
            fd = obj.field(name)
            assert fd is not None
            error = _static_check(fd, value)
            if error is not None:
                item.errors.append(error)
        return item

    def _prepare_reference(self, item: _Prepared, reference: FieldDef, raw: dict[str, Any]) -> None:
        target = self.object(reference.reference_to or "")
        keys = [k for k in raw if k != "attributes"]
        lookup = target.field(keys[0]) if len(keys) == 1 else None
        if lookup is None or not (lookup.external_id or lookup.id_lookup or lookup.name == "Id"):
            shown = keys[0] if keys else ""
            item.errors.append(
                RecordError(
                    "INVALID_FIELD",
                    f"Field name provided, {shown} is not an External ID or indexed field for "
                    f"{target.name}",
                )
            )
            return
        value = self._coerce(lookup, raw[keys[0]])
        if lookup.name == "Id" and value is not None:
            value = normalize_id(value) or value
        item.references[reference.relationship_name or reference.name] = (reference, lookup, value)

    @staticmethod
    def _coerce(fd: FieldDef, raw: Any) -> Any:
        try:
            return from_json(fd, raw)
        except ValueParseError as error:
            raise json_parser_error(str(error)) from None

    @staticmethod
    def _flag_duplicate_external_ids(prepared: list[_Prepared]) -> None:
        seen: dict[tuple[str, str, str], list[_Prepared]] = {}
        for item in prepared:
            if item.external is not None and item.external_value is not None:
                key = (item.obj.name, item.external.name, _fold(item.external, item.external_value))
                seen.setdefault(key, []).append(item)
        for items in seen.values():
            if len(items) > 1:
                for item in items:
                    item.errors.append(
                        RecordError(
                            "DUPLICATE_VALUE",
                            f"Duplicate external id specified: {item.external_value}",
                            [item.external.name] if item.external else [],
                        )
                    )

    def delete(self, record_ids: Sequence[str], *, all_or_none: bool = False) -> list[WriteResult]:
        """Delete records (and their cascade children); one result per id, in order."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._delete_one(record_id) for record_id in record_ids]
                if all_or_none and not all(result.success for result in results):
                    self._db.execute("ROLLBACK")
                    return [
                        result
                        if not result.success
                        else WriteResult(result.id, False, [_ROLLED_BACK])
                        for result in results
                    ]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return results

    def _delete_one(self, raw_id: str) -> WriteResult:
        record_id = normalize_id(raw_id)
        obj = self.schema.by_prefix(record_id[:3]) if record_id else None
        if record_id is None or obj is None:
            return WriteResult(
                raw_id, False, [RecordError("MALFORMED_ID", f"malformed id {raw_id}")]
            )
        if not obj.deletable:
            return WriteResult(
                record_id,
                False,
                [RecordError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted")],
            )
        row = self._db.execute(
            f'SELECT "IsDeleted" FROM {quote(obj.name)} WHERE "Id" = ?', (record_id,)
        ).fetchone()
        if row is None:
            return WriteResult(
                record_id,
                False,
                [RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")],
            )
        if row[0]:
            return WriteResult(
                record_id, False, [RecordError("ENTITY_IS_DELETED", "entity is deleted")]
            )
        self._soft_delete(obj, [record_id], now_timestamp())
        return WriteResult(record_id, True)

    def _soft_delete(self, obj: SObjectDef, record_ids: list[str], now: str) -> None:
        self._db.executemany(
            f'UPDATE {quote(obj.name)} SET "IsDeleted" = 1, "LastModifiedDate" = ?, '
            '"SystemModstamp" = ? WHERE "Id" = ?',
            [(now, now, record_id) for record_id in record_ids],
        )
        for child, fd in self.schema.referencing(obj.name):
            marks = ", ".join("?" for _ in record_ids)
            column = quote(fd.name)
            if fd.cascade_delete:
                rows = self._db.execute(
                    f'SELECT "Id" FROM {quote(child.name)} WHERE {column} IN ({marks}) '
                    'AND "IsDeleted" = 0',
                    record_ids,
                ).fetchall()
                if rows:
                    self._soft_delete(child, [str(r[0]) for r in rows], now)
            elif not fd.name.endswith("ById"):
                # Salesforce clears lookups to a deleted record; audit fields keep their user.
                self._db.execute(
                    f"UPDATE {quote(child.name)} SET {column} = NULL WHERE {column} IN ({marks})",
                    record_ids,
                )


class _Rollback(Exception):
    def __init__(self, results: list[WriteResult]) -> None:
        super().__init__("all-or-none write rolled back")
        self.results = results


def _static_check(fd: FieldDef, value: Any) -> RecordError | None:
    """The error a value has on its own (too long, not an email), None when it is fine."""
    if value is None or not isinstance(value, str):
        return None
    if fd.is_text and fd.length and len(value) > fd.length:
        return RecordError(
            "STRING_TOO_LONG",
            f"{fd.label}: data value too large: {value} (max length={fd.length})",
            [fd.name],
        )
    if fd.type == FieldType.EMAIL and not _EMAIL.match(value):
        return RecordError(
            "INVALID_EMAIL_ADDRESS", f"{fd.label}: invalid email address: {value}", [fd.name]
        )
    if fd.type == FieldType.REFERENCE:
        normalized = normalize_id(value)
        if normalized is None:
            return RecordError(
                "MALFORMED_ID", f"{fd.label}: id value of incorrect type: {value}", [fd.name]
            )
    return None


class _Writer:
    """Applies one prepared record inside the store's transaction (the lock is held)."""

    def __init__(
        self,
        store: Store,
        item: _Prepared,
        actor_id: str | None,
        system: bool,
        users: dict[str, dict[str, Any] | None],
    ) -> None:
        self.store = store
        self.users = users
        self.db = store._db
        self.item = item
        self.obj = item.obj
        self.actor_id = actor_id
        self.system = system
        self.errors = list(item.errors)

    def run(self) -> WriteResult:
        op = self.item.op
        current: dict[str, Any] | None = None
        if op.kind == "update":
            current = self._current_for_update(op.record_id)
            if current is None:
                return WriteResult(None, False, self.errors)
        elif op.kind == "upsert":
            if self.item.external_value is None:
                return WriteResult(None, False, self.errors)
            matches = self._upsert_matches()
            if len(matches) > 1:
                ids = [m["Id"] for m in matches]
                return WriteResult(None, False, self.errors, matches=ids)
            if matches:
                current = matches[0]
        inserting = current is None
        values = dict(self.item.values)
        self._check_access(values, inserting)
        self._resolve_references(values)
        if inserting:
            self._apply_defaults(values)
        self._check_required(values, inserting)
        self._check_references(values)
        merged = {**(current or {}), **values}
        self._compute(values, merged)
        self._check_unique(values, current)
        if self.errors:
            return WriteResult(None, False, self.errors)
        now = now_timestamp()
        if inserting:
            record_id = self._insert(values, now)
            return WriteResult(record_id, True, created=True)
        assert current is not None
        self._update(current["Id"], values, now)
        return WriteResult(current["Id"], True, created=False)

    def _upsert_matches(self) -> list[dict[str, Any]]:
        external = self.item.external
        assert external is not None
        if external.name == "Id":
            record_id = normalize_id(str(self.item.external_value))
            row = self.store.get_record(self.obj.name, record_id) if record_id else None
            return [row] if row and not row["IsDeleted"] else []
        matches = self.store.find_records(self.obj, external, self.item.external_value)
        if len(matches) > 1:
            ids = [m["Id"] for m in matches]
            self.errors.append(
                RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{external.name}: more than one record found for external id field: {ids}",
                    [external.name],
                )
            )
        return matches

    def _current_for_update(self, raw_id: str | None) -> dict[str, Any] | None:
        if not raw_id or raw_id == "None":
            self.errors.append(
                RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
            )
            return None
        record_id = normalize_id(raw_id)
        if record_id is None:
            self.errors.append(RecordError("MALFORMED_ID", f"malformed id {raw_id}"))
            return None
        if record_id[:3] != self.obj.key_prefix:
            self.errors.append(
                RecordError("INVALID_ID_FIELD", f"Invalid id value for this SObject type: {raw_id}")
            )
            return None
        current = self.store.get_record(self.obj.name, record_id)
        if current is None:
            self.errors.append(
                RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            )
        elif current["IsDeleted"]:
            self.errors.append(RecordError("ENTITY_IS_DELETED", "entity is deleted"))
            return None
        return current

    def _check_access(self, values: dict[str, Any], inserting: bool) -> None:
        if self.system:
            return
        if inserting and not self.obj.createable:
            self.errors.append(
                RecordError(
                    "INVALID_TYPE_FOR_OPERATION",
                    f"entity type cannot be inserted: {self.obj.label}",
                )
            )
            return
        if not inserting and not self.obj.updateable:
            self.errors.append(
                RecordError(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {self.obj.label}"
                )
            )
            return
        external = self.item.external
        refused = []
        for name in values:
            fd = self.obj.field(name)
            assert fd is not None
            allowed = fd.createable if inserting else fd.updateable
            if not allowed and not (external is not None and fd.name == external.name):
                refused.append(fd.name)
        if refused:
            self.errors.append(
                RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(refused)}. Please check the "
                    "security settings of this field and verify that it is read/write for your "
                    "profile or permission set.",
                    refused,
                )
            )

    def _resolve_references(self, values: dict[str, Any]) -> None:
        for reference, lookup, value in self.item.references.values():
            target = self.store.object(reference.reference_to or "")
            if reference.name in values:
                self.errors.append(
                    RecordError(
                        "INVALID_FIELD",
                        f"Cannot specify both an external ID reference "
                        f"{reference.relationship_name} and a salesforce id, {reference.name}",
                    )
                )
                continue
            ids = self.store.find_ids(target, lookup, value) if value is not None else []
            if not ids:
                self.errors.append(
                    RecordError(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {value} not found for field {lookup.name} in "
                        f"entity {target.name}",
                    )
                )
            elif len(ids) > 1:
                self.errors.append(
                    RecordError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"Foreign key external ID: {value} matched more than one record in "
                        f"entity {target.name}",
                    )
                )
            else:
                values[reference.name] = ids[0]

    def _apply_defaults(self, values: dict[str, Any]) -> None:
        for fd in self.obj.fields:
            if fd.owner and values.get(fd.name) is None and self.actor_id is not None:
                values[fd.name] = self.actor_id
            elif fd.name in values:
                continue
            elif fd.default is not None:
                values[fd.name] = int(fd.default) if fd.type == FieldType.BOOLEAN else fd.default

    def _check_required(self, values: dict[str, Any], inserting: bool) -> None:
        missing = [
            fd.name
            for fd in self.obj.fields
            if (fd.required or fd.owner)
            and (inserting or fd.name in values)
            and values.get(fd.name) is None
        ]
        if missing:
            self.errors.append(
                RecordError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            )

    def _check_references(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            fd = self.obj.field(name)
            assert fd is not None
            if fd.type != FieldType.REFERENCE or value is None or name.endswith("ById"):
                continue
            record_id = normalize_id(value)
            if record_id is None:
                continue  # reported as MALFORMED_ID already
            values[name] = record_id
            target = self.store.object(fd.reference_to or "")
            if record_id[:3] != target.key_prefix:
                self.errors.append(
                    RecordError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"{fd.label}: id value of incorrect type: {value}",
                        [fd.name],
                    )
                )
                continue
            if fd.owner:
                self._check_owner(fd, record_id)
                continue
            row = self.db.execute(
                f'SELECT "IsDeleted" FROM {quote(target.name)} WHERE "Id" = ?', (record_id,)
            ).fetchone()
            if row is None:
                self.errors.append(
                    RecordError(
                        "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fd.name]
                    )
                )
            elif row[0]:
                self.errors.append(RecordError("ENTITY_IS_DELETED", "entity is deleted", [fd.name]))

    def _check_owner(self, fd: FieldDef, user_id: str) -> None:
        if user_id not in self.users:
            self.users[user_id] = self.store.user_by_id(user_id)
        user = self.users[user_id]
        if user is None:
            self.errors.append(
                RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fd.name])
            )
        elif not user["IsActive"]:
            self.errors.append(
                RecordError(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{user_id}] as owner of "
                    f"{self.obj.label.lower()}",
                    [],
                )
            )
        elif user["LicenseName"] in NON_OWNER_LICENSES:
            self.errors.append(
                RecordError(
                    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                    f"insufficient access rights on cross-reference id: {user_id}",
                    [],
                )
            )

    def _compute(self, values: dict[str, Any], merged: dict[str, Any]) -> None:
        for fd in self.obj.fields:
            if fd.compound_of and any(part in values for part in fd.compound_of):
                parts = [merged.get(part) for part in fd.compound_of]
                values[fd.name] = " ".join(str(p) for p in parts if p) or None

    def _check_unique(self, values: dict[str, Any], current: dict[str, Any] | None) -> None:
        for fd in self.obj.unique_fields():
            value = values.get(fd.name)
            if value is None:
                continue
            if current is not None and _same(fd, current.get(fd.name), value):
                continue
            others = [
                i
                for i in self.store.find_ids(self.obj, fd, value)
                if current is None or i != current["Id"]
            ]
            if others:
                self.errors.append(
                    RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fd.name} duplicates value on record with id: "
                        f"{others[0]}",
                        [],
                    )
                )

    def _insert(self, values: dict[str, Any], now: str) -> str:
        record_id = self.store._new_id(self.obj)
        audit = {
            "Id": record_id,
            "IsDeleted": 0,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": self.actor_id,
            "LastModifiedById": self.actor_id,
        }
        row = {**audit, **values} if self.system else {**values, **audit}
        self.db.execute(
            self.store._insert_sql(self.obj), [row.get(fd.name) for fd in self.obj.fields]
        )
        return record_id

    def _update(self, record_id: str, values: dict[str, Any], now: str) -> None:
        changes = {
            **values,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "LastModifiedById": self.actor_id,
        }
        changes.pop("Id", None)
        assignments = ", ".join(f"{quote(name)} = ?" for name in changes)
        self.db.execute(
            f'UPDATE {quote(self.obj.name)} SET {assignments} WHERE "Id" = ?',
            [*changes.values(), record_id],
        )


def _fold(fd: FieldDef, value: Any) -> str:
    text = str(value)
    return text.translate(_ASCII_LOWER) if fd.collation == "NOCASE" else text


def _same(fd: FieldDef, old: Any, new: Any) -> bool:
    return old is not None and new is not None and _fold(fd, old) == _fold(fd, new)
