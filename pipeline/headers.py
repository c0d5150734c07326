"""Map CSV header cells, in Sansan's Japanese export style or Open API style, to Card fields."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from pipeline.errors import BadInputError

log = structlog.get_logger(__name__)

SANSAN = "sansan"
OPEN_API = "api"

# Card field -> header spellings of Sansan's CSV export. The first one is the canonical header
# (what the synthetic generator writes); the others are variants seen in hand-edited files.
# Matching is on `header_key`, so full-width brackets and letters need no entries of their own.
SANSAN_ALIASES: dict[str, tuple[str, ...]] = {
    "card_id": ("名刺ID", "名刺Id"),
    "person_id": ("人物ID",),
    "owner_id": ("名刺所有者ユーザID", "所有者ユーザID", "名刺所有者ID"),
    "owner_name": ("名刺所有者", "名刺所有者名", "所有者"),
    "owner_email": ("名刺所有者メールアドレス", "所有者メールアドレス"),
    "company_name": ("会社名", "企業名", "会社"),
    "department": ("部署名", "部署", "部門"),
    "title": ("役職", "役職名"),
    "last_name": ("氏名[姓]", "氏名(姓)", "氏名_姓", "氏名:姓", "姓", "名字", "苗字"),
    "first_name": ("氏名[名]", "氏名(名)", "氏名_名", "氏名:名", "名", "名前"),
    "last_name_reading": (
        "氏名カナ[姓]",
        "氏名カナ(姓)",
        "氏名フリガナ[姓]",
        "フリガナ[姓]",
        "フリガナ(姓)",
        "姓カナ",
        "姓(カナ)",
        "姓フリガナ",
        "セイ",
    ),
    "first_name_reading": (
        "氏名カナ[名]",
        "氏名カナ(名)",
        "氏名フリガナ[名]",
        "フリガナ[名]",
        "フリガナ(名)",
        "名カナ",
        "名(カナ)",
        "名フリガナ",
        "メイ",
    ),
    "email": ("メールアドレス", "Eメール", "E-mail", "メール"),
    "tel": ("電話番号", "TEL", "電話", "会社電話番号"),
    "mobile": ("携帯電話", "携帯電話番号", "携帯番号", "携帯"),
    "fax": ("FAX", "FAX番号", "ファックス"),
    "url": ("URL", "ホームページ", "Webサイト"),
    "postal_code": ("郵便番号", "〒"),
    "prefecture": ("都道府県",),
    "street": ("住所", "所在地", "番地"),
    "building": ("建物名", "ビル名"),
    "exchange_date": ("名刺交換日", "交換日"),
    "tags": ("タグ",),
}

# Card field -> names of the Sansan Open API (the flattened bizCard resource). Card's own field
# names are accepted as well, so files that cardsync writes itself read back.
OPEN_API_ALIASES: dict[str, tuple[str, ...]] = {
    "card_id": ("id", "card_id"),
    "person_id": ("personId", "person_id"),
    "owner_id": ("owner.id", "ownerId", "owner_id"),
    "owner_name": ("owner.name", "ownerName", "owner_name"),
    "owner_email": ("owner.email", "ownerEmail", "owner_email"),
    "company_name": ("companyName", "company_name"),
    "department": ("departmentName", "department"),
    "title": ("title",),
    "last_name": ("lastName", "last_name"),
    "first_name": ("firstName", "first_name"),
    "last_name_reading": ("lastNameReading", "last_name_reading"),
    "first_name_reading": ("firstNameReading", "first_name_reading"),
    "email": ("email",),
    "tel": ("tel",),
    "mobile": ("mobile",),
    "fax": ("fax",),
    "url": ("url",),
    "postal_code": ("postalCode", "postal_code"),
    "prefecture": ("prefecture",),
    "city": ("city",),
    "street": ("street",),
    "building": ("building",),
    "exchange_date": ("exchangeDate", "exchange_date"),
    "tags": ("tags",),
}

# Required fields, each as alternatives (one owner column is enough).
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("company_name",),
    ("last_name",),
    ("owner_id", "owner_email"),
)

SANSAN_HEADERS: tuple[str, ...] = tuple(aliases[0] for aliases in SANSAN_ALIASES.values())
OPEN_API_HEADERS: tuple[str, ...] = tuple(aliases[0] for aliases in OPEN_API_ALIASES.values())


def header_key(header: str) -> str:
    """Comparable form of a header cell: NFKC, no whitespace, case-folded."""
    return "".join(unicodedata.normalize("NFKC", header).split()).casefold().lstrip("\ufeff")


def _build_index() -> dict[str, tuple[str, str]]:
    index: dict[str, tuple[str, str]] = {}
    for style, table in ((SANSAN, SANSAN_ALIASES), (OPEN_API, OPEN_API_ALIASES)):
        for field_name, aliases in table.items():
            for alias in aliases:
                key = header_key(alias)
                known = index.get(key)
                if known is None:
                    index[key] = (field_name, style)
                elif known[0] != field_name:
                    raise AssertionError(f"header alias {alias!r} maps to two fields")
                elif known[1] != style:
                    index[key] = (field_name, "")  # shared by both styles (URL, tel): no vote
    return index


_INDEX = _build_index()


class MissingHeaderError(BadInputError, ValueError):
    """A required column is missing; the message names it in both header styles and the file."""

    def __init__(self, file: str, missing: Sequence[tuple[str, ...]]) -> None:
        self.file = file
        self.missing = tuple(missing)
        described = "; ".join(_describe(alternatives) for alternatives in self.missing)
        super().__init__(f"{file or '<csv>'}: missing required header(s): {described}")


def _describe(alternatives: tuple[str, ...]) -> str:
    sansan = " or ".join(SANSAN_ALIASES[f][0] for f in alternatives)
    api = " or ".join(OPEN_API_ALIASES[f][0] for f in alternatives)
    return f"{sansan} (Open API: {api})"


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Which column holds which Card field, and what was left over."""

    headers: tuple[str, ...]
    columns: tuple[tuple[int, str], ...]  # (column index, Card field) of each mapped column
    style: str  # SANSAN or OPEN_API, whichever named more of the columns
    unknown: tuple[str, ...]
    duplicates: tuple[str, ...]  # later columns for a field already mapped; ignored

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field_name for _, field_name in self.columns)

    def values(self, row: Sequence[str]) -> dict[str, str]:
        """Card field -> cell of a data row; short rows read as blank cells."""
        width = len(row)
        return {name: row[i] if i < width else "" for i, name in self.columns}


def map_headers(headers: Sequence[str], *, file: str = "") -> HeaderMap:
    """Map a header row to Card fields; raise MissingHeaderError, warn once about unknown ones."""
    columns: list[tuple[int, str]] = []
    seen: set[str] = set()
    unknown: list[str] = []
    duplicates: list[str] = []
    votes = {SANSAN: 0, OPEN_API: 0}
    for i, header in enumerate(headers):
        key = header_key(header)
        if not key:
            continue  # a blank header cell (trailing comma) carries nothing worth a warning
        hit = _INDEX.get(key)
        if hit is None:
            unknown.append(header.strip())
            continue
        field_name, style = hit
        if field_name in seen:
            duplicates.append(header.strip())
            continue
        seen.add(field_name)
        columns.append((i, field_name))
        if style:
            votes[style] += 1
    missing = [alts for alts in REQUIRED if not any(f in seen for f in alts)]
    if missing:
        raise MissingHeaderError(file, missing)
    if unknown:
        log.warning("unknown_headers", file=file, headers=unknown)
    if duplicates:
        log.warning("duplicate_headers", file=file, headers=duplicates)
    return HeaderMap(
        headers=tuple(headers),
        columns=tuple(columns),
        style=SANSAN if votes[SANSAN] >= votes[OPEN_API] else OPEN_API,
        unknown=tuple(unknown),
        duplicates=tuple(duplicates),
    )
