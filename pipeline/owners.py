"""Owner rules (user mapping): which Salesforce user owns a person, as Sansan's integration."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Licences whose users cannot own Contacts, Accounts or Leads.
UNUSABLE_LICENSES = frozenset({"chatter free", "chatter external"})


class OwnerReason(StrEnum):
    USERNAME_MATCH = "username_match"
    OVERRIDE = "override"
    NO_MATCH = "no_match"
    INACTIVE = "inactive"
    CHATTER_LICENSE = "chatter_license"
    NEW_USER = "new_user"
    NO_OWNER = "no_owner"


@dataclass(frozen=True, slots=True)
class SalesforceUser:
    id: str
    username: str
    is_active: bool
    license_name: str

    @property
    def can_own_records(self) -> bool:
        return self.is_active and self.license_name.strip().lower() not in UNUSABLE_LICENSES


@dataclass(frozen=True, slots=True)
class UserDirectory:
    """The org's users by lower-cased username, and the default (integration) user's id."""

    users_by_username: dict[str, SalesforceUser]
    users_by_id: dict[str, SalesforceUser]
    default_user_id: str

    @classmethod
    def build(cls, users: list[SalesforceUser], default_user_id: str) -> UserDirectory:
        return cls(
            users_by_username={u.username.lower(): u for u in users},
            users_by_id={u.id: u for u in users},
            default_user_id=default_user_id,
        )


@dataclass(frozen=True, slots=True)
class SansanOwner:
    user_id: str
    email: str
    name: str = ""

    @property
    def key(self) -> str:
        """How a Sansan user is known in the mapping: its user id, else its email (lower-cased)."""
        return (self.user_id.strip() or self.email.strip()).lower()


@dataclass(frozen=True, slots=True)
class OwnerDecision:
    user_id: str
    reason: OwnerReason


def resolve_owner(
    owner: SansanOwner,
    directory: UserDirectory,
    overrides: dict[str, str],
    *,
    in_initial_mapping: bool,
    auto_map_new_users: bool = False,
) -> OwnerDecision:
    """Pick the Salesforce owner for a card owned by `owner` in Sansan.

    An administrator's override wins; otherwise a Sansan user whose email equals a Salesforce
    username (case-insensitive) maps to that user. Everything else goes to the default user:
    no match, an inactive or Chatter-licensed match, or a Sansan user first seen after the
    initial mapping was taken (unless `auto_map_new_users`).
    """
    default = OwnerDecision(directory.default_user_id, OwnerReason.NO_OWNER)
    if not owner.key:
        return default
    override = overrides.get(owner.key) or overrides.get(owner.email.strip().lower())
    if override:
        target = directory.users_by_id.get(override)
        # An override to a user who cannot own records would fail every write; fall back instead.
        if target is not None and target.can_own_records:
            return OwnerDecision(target.id, OwnerReason.OVERRIDE)
    if not in_initial_mapping and not auto_map_new_users:
        return OwnerDecision(directory.default_user_id, OwnerReason.NEW_USER)
    match = directory.users_by_username.get(owner.email.strip().lower())
    if match is None:
        return OwnerDecision(directory.default_user_id, OwnerReason.NO_MATCH)
    if not match.is_active:
        return OwnerDecision(directory.default_user_id, OwnerReason.INACTIVE)
    if not match.can_own_records:
        return OwnerDecision(directory.default_user_id, OwnerReason.CHATTER_LICENSE)
    return OwnerDecision(match.id, OwnerReason.USERNAME_MATCH)
