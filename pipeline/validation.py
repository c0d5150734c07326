"""Turn one source row (Card field -> text) into a trimmed Card or a Reject that says why."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import date, datetime

from pipeline.models import Card, Reject

# Salesforce's lengths of the fields each Card field is written to (Contact/Account standard
# fields); a longer value would fail the whole upsert batch later, so it is rejected here.
MAX_LENGTHS: dict[str, int] = {
    "last_name": 80,
    "first_name": 40,
    "email": 80,
    "tel": 40,
    "mobile": 40,
    "fax": 40,
    "title": 128,
    "department": 80,
    "company_name": 255,
    "url": 255,
    "postal_code": 20,
    "prefecture": 80,
    "city": 40,
    "street": 255,
    "building": 255,
}

# Fields whose text may span lines (an address printed on two lines stays two lines). In every
# other field a line break (Sansan exports have them in department names) becomes one space.
MULTILINE_FIELDS: frozenset[str] = frozenset({"street"})

# Every text field of a Card that a source fills, in Card order (which is the check order).
TEXT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Card) if f.name not in {"tags", "source", "line"}
)

# Fields that go into the id of a card that came without one.
_ID_FIELDS: tuple[str, ...] = tuple(f for f in TEXT_FIELDS if f != "card_id")

# C0 and C1 control characters and DEL, except tab, CR and LF (which clean_text folds or keeps).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK_RE = re.compile(r"\r\n?|\n")
_SPACES_AROUND_BREAK_RE = re.compile(r"\s*\n\s*")
# Only runs that change: 2+ whitespace characters, or a single one that is not a plain or
# ideographic space.
_SPACE_RUN_RE = re.compile(r"[^\S\n]{2,}|[^\S\n \u3000]")
_EMAIL_RE = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+")
_DATE_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_JA_DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_TAG_SPLIT_RE = re.compile(r"[;,、|；，｜\n]")


def _fold_run(match: re.Match[str]) -> str:
    # A run of only ideographic spaces stays one ideographic space: it is Japanese typography.
    return "\u3000" if not match.group().strip("\u3000") else " "


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Trim and fold inner whitespace runs to one space.

    A line break (CRLF, CR or LF, with the spaces around it) stays one line feed if
    `multiline`, else it becomes one space, like any other whitespace run.
    """
    text = value.strip()
    if not text:
        return ""
    if "\n" in text or "\r" in text:
        text = _SPACES_AROUND_BREAK_RE.sub("\n", _LINE_BREAK_RE.sub("\n", text))
        if not multiline:
            text = text.replace("\n", " ")
    return _SPACE_RUN_RE.sub(_fold_run, text)


def is_valid_email(value: str) -> bool:
    """Pragmatic check: one @, a non-empty local part, a dotted domain, no spaces."""
    return _EMAIL_RE.fullmatch(value) is not None


def parse_date(value: str) -> str | None:
    """ISO `YYYY-MM-DD` of a date in the usual Japanese and ISO spellings; None if unparseable."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.fullmatch(text) or _JA_DATE_RE.fullmatch(text)
    try:
        if match is not None:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day).isoformat()
        # Compact and other ISO 8601 spellings (20240501, 2024-05-01T10:00:00.000+09:00).
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return None


def split_tags(value: str | Iterable[str]) -> tuple[str, ...]:
    """Tags from one cell (split on ; , 、 | and line breaks) or from a list, blanks dropped."""
    parts = _TAG_SPLIT_RE.split(value) if isinstance(value, str) else value
    return tuple(tag for tag in (clean_text(str(p)) for p in parts) if tag)


def derive_card_id(values: Mapping[str, str], tags: tuple[str, ...] = ()) -> str:
    """Stable id of a card that came without one: a hash of its normalized content."""
    parts = [unicodedata.normalize("NFKC", values.get(name, "")) for name in _ID_FIELDS]
    parts.append("\x1e".join(unicodedata.normalize("NFKC", t) for t in tags))
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8"), usedforsecurity=False)
    return "h-" + digest.hexdigest()[:20]


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def validate_row(
    values: Mapping[str, object],
    *,
    source: str,
    line: int = 0,
    raw: Mapping[str, str] | None = None,
) -> Card | Reject:
    """Check and trim one row keyed by Card field names; the first problem found rejects it.

    `tags` may be one cell or a list. `raw` is what the Reject keeps (defaults to `values`), so
    a file source can keep the row under its own headers.
    """
    card_id = _as_text(values.get("card_id")).strip()

    def reject(field_name: str, reason: str) -> Reject:
        kept = raw if raw is not None else {k: _as_text(v) for k, v in values.items()}
        return Reject(source, line, field_name, reason, card_id, dict(kept))

    clean: dict[str, str] = {}
    for name in TEXT_FIELDS:
        text = _as_text(values.get(name))
        if not text:
            clean[name] = ""
            continue
        bad = _CONTROL_RE.search(text)
        if bad is not None:
            return reject(name, f"control character U+{ord(bad.group()):04X} in {name}")
        clean[name] = clean_text(text, multiline=name in MULTILINE_FIELDS)

    raw_tags = values.get("tags") or ""
    tag_cells = (
        [_as_text(t) for t in raw_tags]
        if isinstance(raw_tags, Iterable) and not isinstance(raw_tags, str)
        else [_as_text(raw_tags)]
    )
    for cell in tag_cells:
        if (bad := _CONTROL_RE.search(cell)) is not None:
            return reject("tags", f"control character U+{ord(bad.group()):04X} in tags")
    # One cell (CSV) is split on separators; a list (API) already holds one tag per item.
    tags = split_tags(tag_cells[0]) if isinstance(raw_tags, str) else split_tags(tag_cells)

    if not clean["last_name"] and not clean["first_name"] and not clean["company_name"]:
        return reject("last_name", "no name and no company")
    if not clean["last_name"]:
        return reject("last_name", "missing last name (a Salesforce Contact requires LastName)")
    if not clean["owner_id"] and not clean["owner_email"]:
        return reject("owner_id", "missing owner (neither owner user ID nor owner e-mail)")

    if clean["email"]:
        # Addresses are ASCII; full-width letters from OCR are the same address.
        email = unicodedata.normalize("NFKC", clean["email"])
        if not is_valid_email(email):
            return reject("email", f"malformed email address {clean['email']!r}")
        clean["email"] = email

    if clean["exchange_date"]:
        iso = parse_date(clean["exchange_date"])
        if iso is None:
            return reject("exchange_date", f"unparseable exchange date {clean['exchange_date']!r}")
        clean["exchange_date"] = iso

    for name, limit in MAX_LENGTHS.items():
        length = len(clean.get(name, ""))
        if length > limit:
            return reject(name, f"{name} is {length} characters long, Salesforce allows {limit}")

    if not card_id:
        card_id = derive_card_id(clean, tags)
    clean["card_id"] = card_id
    return Card(**clean, tags=tags, source=source, line=line)
