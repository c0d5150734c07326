"""The user-mapping rules Sansan's integration follows, which cardsync keeps."""

from pipeline.owners import (
    OwnerReason,
    SalesforceUser,
    SansanOwner,
    UserDirectory,
    resolve_owner,
)

INTEGRATION = SalesforceUser("005A", "integration@corp.example", True, "Salesforce")
TANAKA = SalesforceUser("005B", "Tanaka@Example.co.jp", True, "Salesforce")
RETIRED = SalesforceUser("005C", "retired@example.co.jp", False, "Salesforce")
CHATTER_FREE = SalesforceUser("005D", "free@example.co.jp", True, "Chatter Free")
CHATTER_EXT = SalesforceUser("005E", "ext@example.co.jp", True, "Chatter External")
DIRECTORY = UserDirectory.build(
    [INTEGRATION, TANAKA, RETIRED, CHATTER_FREE, CHATTER_EXT], INTEGRATION.id
)


def owner(email: str, user_id: str = "") -> SansanOwner:
    return SansanOwner(user_id=user_id, email=email)


def decide(
    o: SansanOwner,
    overrides: dict[str, str] | None = None,
    *,
    initial: bool = True,
    auto: bool = False,
):
    return resolve_owner(
        o, DIRECTORY, overrides or {}, in_initial_mapping=initial, auto_map_new_users=auto
    )


def test_sansan_email_matching_username_case_insensitively_maps_to_that_user():
    decision = decide(owner("TANAKA@example.CO.JP"))
    assert (decision.user_id, decision.reason) == (TANAKA.id, OwnerReason.USERNAME_MATCH)


def test_unmatched_sansan_user_goes_to_default_user():
    assert decide(owner("nobody@example.co.jp")) == resolve_owner(
        owner("nobody@example.co.jp"), DIRECTORY, {}, in_initial_mapping=True
    )
    decision = decide(owner("nobody@example.co.jp"))
    assert (decision.user_id, decision.reason) == (INTEGRATION.id, OwnerReason.NO_MATCH)


def test_inactive_salesforce_user_falls_back_to_default_owner():
    decision = decide(owner("retired@example.co.jp"))
    assert (decision.user_id, decision.reason) == (INTEGRATION.id, OwnerReason.INACTIVE)


def test_chatter_free_and_chatter_external_users_fall_back_to_default_owner():
    for email in ("free@example.co.jp", "ext@example.co.jp"):
        decision = decide(owner(email))
        assert (decision.user_id, decision.reason) == (INTEGRATION.id, OwnerReason.CHATTER_LICENSE)


def test_sansan_user_first_seen_after_initial_mapping_goes_to_default_owner():
    decision = decide(owner("tanaka@example.co.jp"), initial=False)
    assert (decision.user_id, decision.reason) == (INTEGRATION.id, OwnerReason.NEW_USER)


def test_auto_map_new_users_maps_late_users_by_username():
    decision = decide(owner("tanaka@example.co.jp"), initial=False, auto=True)
    assert decision.user_id == TANAKA.id


def test_administrator_override_wins_over_username_match_and_new_user_rule():
    overrides = {"tanaka@example.co.jp": CHATTER_FREE.id, "u0009": TANAKA.id}
    # an override to a user who cannot own records is ignored
    assert decide(owner("tanaka@example.co.jp"), overrides).user_id == TANAKA.id
    late = decide(owner("someone@example.co.jp", user_id="U0009"), overrides, initial=False)
    assert (late.user_id, late.reason) == (TANAKA.id, OwnerReason.OVERRIDE)


def test_card_without_owner_goes_to_default_user():
    assert decide(owner("")).user_id == INTEGRATION.id
