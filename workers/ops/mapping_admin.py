"""Owner-mapping administration: show, set and reset overrides, export and import them as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import BadInputError
from pipeline.owners import UserDirectory
from workers.runtime import Runtime

EXPORT_HEADER = (
    "sansan_user",
    "sansan_email",
    "sansan_name",
    "salesforce_username",
    "reason",
    "override",
)


class MappingError(BadInputError, ValueError):
    """An override that cannot be applied; the message says which row and why."""


@dataclass(frozen=True, slots=True)
class MappingRow:
    sansan_user: str
    sansan_email: str
    sansan_name: str
    salesforce_username: str
    reason: str
    override: bool


def _username(directory: UserDirectory, user_id: str) -> str:
    user = directory.users_by_id.get(user_id)
    return user.username if user else user_id


def mapping_rows(rt: Runtime) -> list[MappingRow]:
    """Every Sansan user seen, with the Salesforce user its cards go to and why."""
    directory = rt.directory.get()
    overrides = rt.owners.overrides()
    rows = []
    for key, seen in sorted(rt.owners.seen().items()):
        override = overrides.get(key) or overrides.get(seen["email"].lower())
        target = override or seen["salesforce_user_id"]
        rows.append(
            MappingRow(
                sansan_user=key,
                sansan_email=seen["email"],
                sansan_name=seen["name"],
                salesforce_username=_username(directory, target),
                reason="override" if override else seen["reason"],
                override=bool(override),
            )
        )
    for key, target in sorted(overrides.items()):
        if not any(r.sansan_user == key or r.sansan_email.lower() == key for r in rows):
            rows.append(MappingRow(key, "", "", _username(directory, target), "override", True))
    return rows


def _target_user_id(directory: UserDirectory, salesforce_username: str) -> str:
    user = directory.users_by_username.get(salesforce_username.strip().lower())
    if user is None:
        raise MappingError(f"no Salesforce user with username {salesforce_username!r}")
    if not user.is_active:
        raise MappingError(f"Salesforce user {user.username} is inactive and cannot own records")
    if not user.can_own_records:
        raise MappingError(
            f"Salesforce user {user.username} has a {user.license_name} licence: cannot own records"
        )
    return user.id


def set_override(rt: Runtime, sansan_user: str, salesforce_username: str) -> str:
    """Map one Sansan user (user id or email) to a Salesforce user; returns that user's id."""
    if not sansan_user.strip():
        raise MappingError("the Sansan user (user id or email) is empty")
    user_id = _target_user_id(rt.directory.get(), salesforce_username)
    rt.owners.set_override(sansan_user, user_id)
    return user_id


def export_csv(rows: list[MappingRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for r in rows:
        writer.writerow(
            [
                r.sansan_user,
                r.sansan_email,
                r.sansan_name,
                r.salesforce_username,
                r.reason,
                r.override,
            ]
        )
    return out.getvalue()


def import_csv(rt: Runtime, path: Path) -> int:
    """Apply the overrides of a CSV (sansan_user, salesforce_username; other columns ignored).

    All or nothing: every row is checked first, and one bad row applies none. A blank
    salesforce_username removes that user's override.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"{path}: cannot read as UTF-8 CSV ({error})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"sansan_user", "salesforce_username"} - set(reader.fieldnames or ())
    if missing:
        raise MappingError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    directory = rt.directory.get()  # after the file checks: a bad file needs no Salesforce
    changes: list[tuple[str, str | None]] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        sansan_user = (row.get("sansan_user") or "").strip()
        username = (row.get("salesforce_username") or "").strip()
        if not sansan_user:
            problems.append(f"{path}:{line}: sansan_user is empty")
            continue
        if not username:
            changes.append((sansan_user, None))
            continue
        try:
            changes.append((sansan_user, _target_user_id(directory, username)))
        except MappingError as error:
            problems.append(f"{path}:{line}: salesforce_username: {error}")
    if problems:
        raise MappingError("nothing imported:\n  " + "\n  ".join(problems))
    for sansan_user, user_id in changes:
        if user_id is None:
            rt.owners.reset_override(sansan_user)
        else:
            rt.owners.set_override(sansan_user, user_id)
    return len(changes)
