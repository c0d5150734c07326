"""Which Account a person's Contact links to, and whether cardsync must create that Account."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountLink:
    """How a Contact reaches its Account: an existing record's id, or our external ID (new one)."""

    company_key: str
    account_id: str = ""
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class AccountDecision:
    """`link` is None for a person without a company; `create` asks for our Account record."""

    link: AccountLink | None
    create: bool = False


def account_external_id(company_key: str) -> str:
    """External ID of an Account cardsync creates, derived from the normalized company key."""
    return "K" + hashlib.sha1(company_key.encode("utf-8")).hexdigest()[:24]


def decide_account(
    company_key: str, existing: Mapping[str, str], written: Collection[str]
) -> AccountDecision:
    """An Account the org has (company key -> Id in `existing`) wins; otherwise our own Account,
    referred to by its external ID whether written or not (so the Contact's payload, and its
    hash in the ledger, do not change once the Account gets an Id: replays stay free), to be
    created unless its external ID is among those already `written`."""
    if not company_key:
        return AccountDecision(None)
    if company_key in existing:
        return AccountDecision(AccountLink(company_key, account_id=existing[company_key]))
    external_id = account_external_id(company_key)
    return AccountDecision(
        AccountLink(company_key, external_id=external_id), create=external_id not in written
    )
