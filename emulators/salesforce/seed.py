"""The org a fresh emulator starts with: demo credentials, licenses, profiles, users and Accounts.

Demo credentials (credentials.py: the connected app and the integration user every token
runs as):

    client_id      cardsync-demo
    client_secret  cardsync-demo-secret
    username       integration@cardsync.example
    password       cardsync-demo   (cardsync-demo + cardsyncDemoToken is accepted too)

Default users (`default_seed()`), chosen to exercise owner mapping's edge cases:

    integration@cardsync.example   Salesforce license, System Administrator, active: the API user
    tanaka@example.co.jp           田中 太郎  Salesforce, active
    sato@example.co.jp             佐藤 花子  Salesforce, active
    suzuki@example.co.jp           鈴木 一郎  Salesforce, active
    takahashi@example.co.jp        高橋 健太  Salesforce, INACTIVE (cannot own records)
    ito@example.co.jp              伊藤 美咲  Chatter Free (cannot own CRM records)
    watanabe@example.co.jp         渡辺 翔太  Chatter External (cannot own CRM records)
    Yamamoto@Example.co.jp         山本 直樹  Salesforce, active; Email yamamoto@example.co.jp, so
                                              the Username differs from the Email only in case
    kobayashi@example.co.jp        小林 優子  Salesforce Platform, active
    kato@example.co.jp.cardsync    加藤 大輔  Salesforce, active; Email kato@example.co.jp, the
                                              Username carries a sandbox-style suffix

Default Accounts: 株式会社サンプル商事, 東京システム株式会社, 大阪物産株式会社 (owned by
tanaka), 合同会社みらいデザイン, 北海道フーズ株式会社 — none has Sansan_Company_Key__c set, like
Accounts that existed before cardsync.

Seed files are JSON objects keyed by sObject: `{"User": [...], "Account": [...], ...}`. Records
use API field names; ids are assigned by the emulator. User records also take `LicenseName`
(Salesforce, Salesforce Platform, Chatter Free, Chatter External; default Salesforce),
`ProfileName`, `Password` and `SecurityToken`. A reference may name its target by an external
ID or Username: `"Account": {"Sansan_Company_Key__c": "K1"}`, `"Owner": {"Username": "..."}`.
The integration user is added when a seed leaves it out. A seed loads once, into a fresh state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulators.salesforce.auth import set_password
from emulators.salesforce.credentials import (
    INTEGRATION_PASSWORD,
    INTEGRATION_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
)
from emulators.salesforce.schema import LICENSE_NAMES
from emulators.salesforce.store import Store, WriteOp
from emulators.salesforce.values import now_timestamp

# The profile a user gets for its license when the seed names none.
STANDARD_PROFILES = {
    "Salesforce": "Standard User",
    "Salesforce Platform": "Standard Platform User",
    "Chatter Free": "Chatter Free User",
    "Chatter External": "Chatter External User",
}
_ADMIN_PROFILE = ("System Administrator", "Salesforce")
_USER_TYPES = {"Chatter Free": "CsnOnly", "Chatter External": "CsnOnly"}
_USER_EXTRAS = ("LicenseName", "ProfileName", "Password", "SecurityToken")


def integration_user() -> dict[str, Any]:
    return {
        "Username": INTEGRATION_USERNAME,
        "Email": INTEGRATION_USERNAME,
        "FirstName": "Integration",
        "LastName": "cardsync",
        "Alias": "cardsync",
        "IsActive": True,
        "LicenseName": "Salesforce",
        "ProfileName": "System Administrator",
        "Password": INTEGRATION_PASSWORD,
        "SecurityToken": INTEGRATION_SECURITY_TOKEN,
    }


def _user(
    username: str,
    last: str,
    first: str,
    license_name: str = "Salesforce",
    *,
    email: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "Username": username,
        "Email": email or username,
        "LastName": last,
        "FirstName": first,
        "IsActive": active,
        "LicenseName": license_name,
    }


def default_seed() -> dict[str, list[dict[str, Any]]]:
    """The default org's users and Accounts (see the module docstring for the edge cases)."""
    return {
        "User": [
            integration_user(),
            _user("tanaka@example.co.jp", "田中", "太郎"),
            _user("sato@example.co.jp", "佐藤", "花子"),
            _user("suzuki@example.co.jp", "鈴木", "一郎"),
            _user("takahashi@example.co.jp", "高橋", "健太", active=False),
            _user("ito@example.co.jp", "伊藤", "美咲", "Chatter Free"),
            _user("watanabe@example.co.jp", "渡辺", "翔太", "Chatter External"),
            _user("Yamamoto@Example.co.jp", "山本", "直樹", email="yamamoto@example.co.jp"),
            _user("kobayashi@example.co.jp", "小林", "優子", "Salesforce Platform"),
            _user("kato@example.co.jp.cardsync", "加藤", "大輔", email="kato@example.co.jp"),
        ],
        "Account": [
            {
                "Name": "株式会社サンプル商事",
                "Phone": "03-1234-5678",
                "Website": "https://sample-shoji.example.co.jp",
                "BillingPostalCode": "100-0005",
                "BillingState": "東京都",
                "BillingCity": "千代田区",
                "BillingStreet": "丸の内1-1-1",
            },
            {
                "Name": "東京システム株式会社",
                "Phone": "03-2345-6789",
                "BillingPostalCode": "160-0023",
                "BillingState": "東京都",
                "BillingCity": "新宿区",
                "BillingStreet": "西新宿2-8-1",
            },
            {
                "Name": "大阪物産株式会社",
                "Phone": "06-3456-7890",
                "BillingPostalCode": "530-0001",
                "BillingState": "大阪府",
                "BillingCity": "大阪市北区",
                "BillingStreet": "梅田3-1-3",
                "Owner": {"Username": "tanaka@example.co.jp"},
            },
            {
                "Name": "合同会社みらいデザイン",
                "Website": "https://mirai-design.example.jp",
                "BillingState": "神奈川県",
                "BillingCity": "横浜市西区",
            },
            {
                "Name": "北海道フーズ株式会社",
                "Phone": "011-456-7890",
                "BillingPostalCode": "060-0005",
                "BillingState": "北海道",
                "BillingCity": "札幌市中央区",
            },
        ],
    }


def read_seed(path: Path) -> dict[str, list[dict[str, Any]]]:
    """A seed file's content, checked to be `{"SObject": [record, ...], ...}`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(records, list) and all(isinstance(r, dict) for r in records)
        for records in data.values()
    ):
        raise ValueError(f"{path}: a seed is a JSON object of sObject name -> list of records")
    return data


def seed_org(store: Store, seed: Mapping[str, list[dict[str, Any]]] | Path | None = None) -> bool:
    """Load `seed` (default: `default_seed()`) into a fresh store; False if already seeded."""
    if store.get_meta("seeded_at") is not None:
        return False
    data = read_seed(seed) if isinstance(seed, Path) else dict(seed or default_seed())
    unknown = [name for name in data if store.schema.get(name) is None]
    if unknown:
        raise ValueError(f"seed names unknown sObjects: {', '.join(unknown)}")
    licenses = _create(
        store, "UserLicense", [{"Name": name, "Status": "Active"} for name in LICENSE_NAMES], None
    )
    license_ids = dict(zip(LICENSE_NAMES, licenses, strict=True))
    profiles = _Profiles(store, license_ids)
    users = [dict(u) for u in data.get("User", [])]
    if not any(str(u.get("Username", "")).lower() == INTEGRATION_USERNAME for u in users):
        users.insert(0, integration_user())
    actor = _load_users(store, profiles, users)
    _stamp_creator(store, actor)
    for obj in store.schema:
        if obj.name in ("UserLicense", "Profile", "User"):
            continue
        records = data.get(obj.name) or next(
            (v for k, v in data.items() if k.lower() == obj.name.lower()), []
        )
        if records:
            _create(store, obj.name, records, actor)
    store.set_meta("seeded_at", now_timestamp())
    return True


def _stamp_creator(store: Store, actor: str) -> None:
    # Licenses, profiles and users exist before the integration user does; credit it anyway.
    audit = {"CreatedById": actor, "LastModifiedById": actor}
    ops = [
        WriteOp("update", name, dict(audit), record_id=record["Id"])
        for name in ("UserLicense", "Profile", "User")
        for record in store.query_records(name)
    ]
    store.write(ops, actor_id=actor, system=True)


class _Profiles:
    """Profiles by name, created on first use for the license they belong to."""

    def __init__(self, store: Store, license_ids: dict[str, str]) -> None:
        self.store = store
        self.license_ids = license_ids
        self.ids: dict[str, str] = {}

    def get(self, name: str, license_name: str) -> str:
        if name not in self.ids:
            if license_name not in self.license_ids:
                raise ValueError(f"unknown LicenseName {license_name!r}; one of {LICENSE_NAMES}")
            record = {
                "Name": name,
                "UserLicenseId": self.license_ids[license_name],
                "UserType": _USER_TYPES.get(license_name, "Standard"),
            }
            self.ids[name] = _create(self.store, "Profile", [record], None)[0]
        return self.ids[name]


def _load_users(store: Store, profiles: _Profiles, users: list[dict[str, Any]]) -> str:
    """Create the users; returns the integration user's id."""
    profiles.get(*_ADMIN_PROFILE)
    records = []
    for user in users:
        license_name = str(user.get("LicenseName") or "Salesforce")
        profile = str(user.get("ProfileName") or STANDARD_PROFILES.get(license_name, ""))
        record = {k: v for k, v in user.items() if k not in _USER_EXTRAS}
        if "ProfileId" not in record and "Profile" not in record:
            record["ProfileId"] = profiles.get(profile, license_name)
        record.setdefault("Alias", str(record.get("Username", ""))[:8])
        records.append(record)
    ids = _create(store, "User", records, None)
    actor = ""
    for user, user_id in zip(users, ids, strict=True):
        if user.get("Password"):
            set_password(store, user_id, str(user["Password"]), user.get("SecurityToken"))
        if str(user.get("Username", "")).lower() == INTEGRATION_USERNAME:
            actor = user_id
    return actor


def _create(
    store: Store, sobject: str, records: list[dict[str, Any]], actor: str | None
) -> list[str]:
    results = store.write(
        [WriteOp("create", sobject, record) for record in records], actor_id=actor, system=True
    )
    failures = [
        f"{sobject}[{index}]: " + "; ".join(f"{e.status_code} {e.message}" for e in result.errors)
        for index, result in enumerate(results)
        if not result.success
    ]
    if failures:
        raise ValueError("seed rejected: " + " | ".join(failures))
    return [str(result.id) for result in results]
