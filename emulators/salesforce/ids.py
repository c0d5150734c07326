"""Salesforce record ids: 15-character ids, the 3-character case-safe suffix, and normalization."""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Real ids carry a 2-character instance (pod) code and a reserved "0" after the key prefix.
_INSTANCE = "5g0"
_COUNTER_WIDTH = 15 - 3 - len(_INSTANCE)
_COUNTER_SPACE = 62**_COUNTER_WIDTH
# Multiplying by a constant coprime with 62 permutes the counter space: ids stay unique but get
# the mixed case of real ids, so clients that mangle case fail here as they would in production.
_SCRAMBLE = 6364136223846793005
_ID_CHARS = re.compile(r"^[0-9A-Za-z]+$")


def checksum(id15: str) -> str:
    """The suffix that makes an id case-insensitively unique: one bit per upper-case letter."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def make_id(key_prefix: str, counter: int) -> str:
    """The 18-character id of the `counter`th record with this key prefix."""
    if not 0 < counter < _COUNTER_SPACE:
        raise OverflowError(f"id counter {counter} does not fit a Salesforce id")
    digits = []
    value = counter * _SCRAMBLE % _COUNTER_SPACE
    while value:
        value, rest = divmod(value, 62)
        digits.append(BASE62[rest])
    body = "".join(reversed(digits)).rjust(_COUNTER_WIDTH, "0")
    id15 = key_prefix + _INSTANCE + body
    return id15 + checksum(id15)


def normalize_id(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, None if it is not one.

    An 18-character id may arrive with its case lost (that is what the suffix is for), so
    the case of the first 15 characters is restored from the suffix.
    """
    if not isinstance(value, str) or not _ID_CHARS.match(value):
        return None
    if len(value) == 15:
        return value + checksum(value)
    if len(value) != 18:
        return None
    if checksum(value[:15]) == value[15:]:
        return value
    suffix = value[15:].upper()
    chars = list(value[:15])
    for chunk, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.find(code)
        if bits < 0:
            return None
        for position in range(5):
            index = chunk * 5 + position
            upper = bool(bits & (1 << position))
            if chars[index].isalpha():
                chars[index] = chars[index].upper() if upper else chars[index].lower()
            elif upper:
                return None
    id15 = "".join(chars)
    return id15 + suffix


def key_prefix(record_id: str) -> str:
    return record_id[:3]
