"""Normalized keys for matching cards to each other and to Salesforce records, not for display."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = [
    "BRANCH_SUFFIXES",
    "KANJI_VARIANTS",
    "LEGAL_FORMS",
    "ROLE_EMAIL_LOCAL_PARTS",
    "CompanyKey",
    "is_mobile_number",
    "is_role_email",
    "normalize_address",
    "normalize_company",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_reading",
    "normalize_text",
    "normalize_url_host",
]


def _nfkc(s: str) -> str:
    # NFKC is a no-op on plain ASCII, and checking that first is much cheaper than normalizing.
    return s if s.isascii() else unicodedata.normalize("NFKC", s)


# ---------------------------------------------------------------------------------------------
# Text


def normalize_text(s: str) -> str:
    """NFKC, trim, and fold every run of whitespace (ideographic space included) to one space."""
    if not s:
        return ""
    return " ".join(_nfkc(s).split())


# ---------------------------------------------------------------------------------------------
# Names

# Old-form / variant kanji seen in surnames, mapped to the form most people type. Only pairs that
# are the *same* name written differently belong here: 斉 and 斎 are different characters of
# different families (斉藤 ≠ 斎藤), so each only absorbs its own old form (齊→斉, 齋→斎).
KANJI_VARIANTS: dict[str, str] = {
    "髙": "高",
    "﨑": "崎",  # U+FA11 has no NFKC decomposition, so it must be folded explicitly
    "嵜": "崎",
    "邊": "辺",
    "邉": "辺",
    "澤": "沢",
    "齋": "斎",
    "齊": "斉",
    "櫻": "桜",
    "國": "国",
    "濱": "浜",
    "嶋": "島",
    "嶌": "島",
    "廣": "広",
    "藏": "蔵",
    "條": "条",
    "瀨": "瀬",
    "德": "徳",
    "惠": "恵",
    "冨": "富",
    "𠮷": "吉",
    "槗": "橋",
    "桒": "桑",
}

# Middle dots appear between the parts of foreign names (ジョン・スミス); NFKC already maps the
# half-width ･ to ・, the others are listed so that raw input also works.
_NAME_DELETE = " \t\n\r\u3000\u00a0・･·•‧∙"
_NAME_TABLE = str.maketrans({**KANJI_VARIANTS, **dict.fromkeys(_NAME_DELETE, None)})


def normalize_name(last: str, first: str = "") -> str:
    """Matching key of a person's name: NFKC, no spaces or middle dots, variant kanji folded."""
    return _nfkc(last + first).translate(_NAME_TABLE).lower()


_READING_TABLE = str.maketrans(
    {
        **{chr(code): chr(code + 0x60) for code in range(0x3041, 0x3097)},  # ぁ..ゖ -> ァ..ヶ
        "ゝ": "ヽ",
        "ゞ": "ヾ",
        **dict.fromkeys(_NAME_DELETE, None),
    }
)


def normalize_reading(s: str) -> str:
    """Matching key of a kana reading: NFKC (half-width kana), katakana only, no spaces or dots."""
    return _nfkc(s).translate(_READING_TABLE).lower()


# ---------------------------------------------------------------------------------------------
# Companies

# Canonical legal form -> the spellings seen on cards (after NFKC, so ㈱/（株） arrive as (株)).
# Parenthesised abbreviations only count with their parentheses; English forms only count as
# whole words after the name.
LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "株式会社": ("株式会社", "(株)", "(カ)", "K.K.", "KK"),
    "有限会社": ("有限会社", "(有)", "(ユ)"),
    "合同会社": ("合同会社", "(同)", "(ド)", "G.K.", "GK"),
    "合資会社": ("合資会社", "(資)"),
    "合名会社": ("合名会社", "(名)"),
    "一般社団法人": ("一般社団法人", "(一社)"),
    "一般財団法人": ("一般財団法人", "(一財)"),
    "公益社団法人": ("公益社団法人", "(公社)"),
    "公益財団法人": ("公益財団法人", "(公財)"),
    "特定非営利活動法人": ("特定非営利活動法人", "NPO法人", "(特非)"),
    "医療法人社団": ("医療法人社団",),
    "医療法人財団": ("医療法人財団",),
    "医療法人": ("医療法人", "(医)"),
    "学校法人": ("学校法人", "(学)"),
    "社会福祉法人": ("社会福祉法人", "(福)"),
    "独立行政法人": ("独立行政法人", "(独)"),
    "国立大学法人": ("国立大学法人",),
    "Co., Ltd.": ("Co., Ltd.", "Company Limited", "Co. Limited"),
    "Ltd.": ("Ltd.", "Limited"),
    "Inc.": ("Inc.", "Incorporated"),
    "Corp.": ("Corporation", "Corp."),
    "LLC": ("LLC", "L.L.C."),
}

# Trailing words that name a branch or department rather than the company. A token is only cut
# when it is separated from the name by a space, so サンプル研究所 or 日本センター stay whole.
BRANCH_SUFFIXES: tuple[str, ...] = (
    "支店",
    "支社",
    "支部",
    "営業所",
    "出張所",
    "事務所",
    "本社",
    "本店",
    "事業部",
    "事業所",
    "本部",
    "部",
    "課",
    "室",
    "工場",
    "研究所",
    "センター",
    "branch",
    "office",
    "division",
    "dept",
    "dept.",
    "department",
    "headquarters",
    "hq",
)
# Endings that look like a department but are part of a name (xx倶楽部, xx楽部).
_NOT_BRANCH_ENDINGS: tuple[str, ...] = ("倶楽部", "楽部")

_PUNCT_OR_SPACE = "".join(
    chr(c)
    for c in range(0x10000)
    if unicodedata.category(chr(c))[0] in "PZ" or unicodedata.category(chr(c)) == "Cc"
)
_KEY_TABLE = str.maketrans(dict.fromkeys(_PUNCT_OR_SPACE, None))


def _legal_lookup(spelling: str) -> str:
    return spelling.casefold().translate(_KEY_TABLE)


_LEGAL_CANONICAL: dict[str, str] = {
    _legal_lookup(spelling): canonical
    for canonical, spellings in LEGAL_FORMS.items()
    for spelling in spellings
}


def _legal_pattern(spelling: str) -> str:
    if spelling.isascii():
        # Latin forms vary in dots, commas and spaces (Co.,Ltd / Co. Ltd. / Co Ltd / KK).
        parts = []
        for ch in spelling:
            if ch == ".":
                parts.append(r"\.?")
            elif ch == ",":
                parts.append(",?")
            elif ch == " ":
                parts.append(r"\s*")
            else:
                parts.append(re.escape(ch))
        return r"(?<![^\s,(])" + "".join(parts) + r"(?![^\s,.)])"
    return re.escape(spelling).replace(r"\(", r"\(\s*").replace(r"\)", r"\s*\)")


_LEGAL_RE = re.compile(
    "|".join(
        _legal_pattern(s)
        for s in sorted(
            (s for spellings in LEGAL_FORMS.values() for s in spellings), key=len, reverse=True
        )
    ),
    re.IGNORECASE,
)


class CompanyKey(NamedTuple):
    """A company name split for matching: `key` compares, `legal_form` and `display` are kept."""

    key: str
    legal_form: str
    display: str


def _strip_branch_tokens(name: str) -> str:
    tokens = name.split(" ")
    while len(tokens) > 1:
        last = tokens[-1].casefold()
        suffix = next((s for s in BRANCH_SUFFIXES if last.endswith(s)), None)
        if suffix is None or last.endswith(_NOT_BRANCH_ENDINGS):
            break
        tokens.pop()
        # A bare word (Tokyo Branch, 東京 支店) takes its qualifier with it.
        if last == suffix and len(tokens) > 1:
            tokens.pop()
    return " ".join(tokens)


@lru_cache(maxsize=65536)
def normalize_company(name: str) -> CompanyKey:
    """Company matching key without legal form and branch/department text, plus the legal form.

    `display` is the NFKC, space-folded name with the branch text removed and the legal form
    kept as written; `legal_form` is the canonical spelling (株式会社 for ㈱, (株), K.K. ...).
    """
    base = normalize_text(name)
    if not base:
        return CompanyKey("", "", "")
    matches = list(_LEGAL_RE.finditer(base))
    legal_form = ""
    head_end = 0
    # Only Japanese forms lead a name (株式会社サンプル); "GK Design" is a name, not a 合同会社.
    if matches and not matches[0].group().isascii() and not base[: matches[0].start()].strip(" ,"):
        legal_form = _LEGAL_CANONICAL.get(_legal_lookup(matches[0].group()), "")
        head_end = matches[0].end()
        matches = matches[1:]
    tail = next((m for m in matches if base[head_end : m.start()].strip(" ,")), None)
    if tail is not None:
        # Suffix form (サンプル株式会社, Sample Co., Ltd.): whatever follows is branch text.
        legal_form = legal_form or _LEGAL_CANONICAL.get(_legal_lookup(tail.group()), "")
        core = base[head_end : tail.start()]
        display = base[: tail.end()]
    else:
        rest = base[head_end:]
        rest_start = head_end + len(rest) - len(rest.lstrip(" ,"))
        core = _strip_branch_tokens(rest.strip(" ,"))
        display = base[: rest_start + len(core)]
    key = core.casefold().translate(_KEY_TABLE)
    if not key:
        # A name that is nothing but a legal form still needs a key of its own.
        key = base.casefold().translate(_KEY_TABLE)
    return CompanyKey(key, legal_form, display.strip(" ,"))


# ---------------------------------------------------------------------------------------------
# E-mail

# Local parts of shared mailboxes: such an address identifies a company, not a person.
ROLE_EMAIL_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "admin",
        "administrator",
        "contact",
        "contactus",
        "contact-us",
        "customer",
        "customers",
        "cs",
        "eigyo",
        "eigyou",
        "enquiry",
        "enquiries",
        "general",
        "help",
        "helpdesk",
        "hr",
        "info",
        "information",
        "inquiry",
        "inquiries",
        "jimu",
        "jinji",
        "kouhou",
        "koho",
        "mail",
        "marketing",
        "media",
        "no-reply",
        "noreply",
        "donotreply",
        "do-not-reply",
        "office",
        "otoiawase",
        "postmaster",
        "pr",
        "press",
        "recruit",
        "recruiting",
        "saiyo",
        "saiyou",
        "sales",
        "service",
        "soumu",
        "somu",
        "support",
        "team",
        "toiawase",
        "webmaster",
        "web",
    }
)


def normalize_email(s: str) -> str:
    """Matching key of an e-mail address: width-folded, trimmed, lower-case."""
    return _nfkc(s).strip().lower()


def is_role_email(s: str) -> bool:
    """True for shared mailboxes like info@ or sales+jp@ that do not identify a person."""
    local, at, _domain = normalize_email(s).rpartition("@")
    if not at:
        return False
    return local.split("+", 1)[0] in ROLE_EMAIL_LOCAL_PARTS


# ---------------------------------------------------------------------------------------------
# Phone numbers

# Annotations printed next to numbers on Japanese cards: (代), (代表), (直通), 内線 123.
_PHONE_NOTE_RE = re.compile(r"\((?:[^)0-9]*)\)|\[(?:[^\]0-9]*)\]")
_PHONE_EXT_RE = re.compile(r"(?:内線|ext\.?|ex\.?|x)\s*(?=\d)", re.IGNORECASE)
_JP_MOBILE_PREFIXES = ("+8170", "+8180", "+8190")


# Plain domestic numbers (03-1234-5678, (090)1234-5678, 0312345678) are most of what cards
# carry; their E.164 form is +81 and the digits without the trunk 0, which phonenumbers would
# also give, at a fraction of the cost of parsing.
_DOMESTIC_PUNCTUATION = str.maketrans(dict.fromkeys(" -()", None))
_DOMESTIC_RE = re.compile(r"(?!010)0[1-9][0-9]{8}|0[5789]0[0-9]{8}")  # 010 dials abroad


@lru_cache(maxsize=65536)
def normalize_phone(s: str) -> str:
    """E.164 form of a phone number, Japan as the default region; "" when it cannot be parsed."""
    if not s:
        return ""
    text = _nfkc(s).strip()
    digits = text.translate(_DOMESTIC_PUNCTUATION)
    if _DOMESTIC_RE.fullmatch(digits):
        return "+81" + digits[1:]
    text = _PHONE_EXT_RE.sub(" ext. ", _PHONE_NOTE_RE.sub(" ", text))
    try:
        number = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_mobile_number(e164: str) -> bool:
    """True for a mobile number in E.164 (Japanese 070/080/090, elsewhere by number type)."""
    if not e164:
        return False
    if e164.startswith("+81"):
        return e164.startswith(_JP_MOBILE_PREFIXES)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


# ---------------------------------------------------------------------------------------------
# URL, postal code, address

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def normalize_url_host(s: str) -> str:
    """Host of a web address, lower-case and without `www.`; the scheme may be missing."""
    text = _nfkc(s).strip()
    if not text:
        return ""
    if not _SCHEME_RE.match(text):
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


# Every dash-like character a postal code or a block number may be written with.
_DASHES = "-‐‑‒–—―−－ー─━ｰ﹣"
_POSTAL_TABLE = str.maketrans(dict.fromkeys(_DASHES + " \u3000〒", None))
_POSTAL_RE = re.compile(r"[0-9]{7}")


def normalize_postal_code(s: str) -> str:
    """Seven-digit Japanese postal code (〒100-0001, １００－０００１, 1000001); else ""."""
    text = _nfkc(s).strip().translate(_POSTAL_TABLE)
    return text if _POSTAL_RE.fullmatch(text) else ""


_ADDRESS_DASH_RE = re.compile(f"(?<=[0-9])[{re.escape(_DASHES)}]")
_SPACE_TABLE = str.maketrans(dict.fromkeys(" \t\n\r\u3000\u00a0", None))


# 1丁目2番3号 and 1-2-3 are the same block: 丁目 and 番(地) between numbers become "-", a
# closing 号 or 番地 goes.
_BLOCK_SEPARATOR_RE = re.compile(r"(?<=[0-9])(?:丁目|番地|番)(?=[0-9])")
_BLOCK_END_RE = re.compile(r"(?<=[0-9])(?:号|番地)")


def normalize_address(prefecture: str, city: str = "", street: str = "") -> str:
    """Comparable address: NFKC, no spaces, dashes and 丁目/番/号 after digits folded to "-"."""
    text = _nfkc(prefecture + city + street).translate(_SPACE_TABLE)
    text = _ADDRESS_DASH_RE.sub("-", text)
    text = _BLOCK_END_RE.sub("", _BLOCK_SEPARATOR_RE.sub("-", text))
    return text.lower()
