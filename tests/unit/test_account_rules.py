"""Which Account a person's Contact links to, and when cardsync creates one (plain data)."""

from pipeline.accounts import AccountDecision, AccountLink, account_external_id, decide_account


def test_a_company_the_org_has_links_to_that_account_and_creates_nothing():
    decision = decide_account("サンプル商事", {"サンプル商事": "001A"}, written=set())
    assert decision == AccountDecision(AccountLink("サンプル商事", account_id="001A"), create=False)


def test_a_new_company_links_by_our_external_id_and_asks_for_the_account():
    decision = decide_account("北海道フーズ", {}, written=set())
    ext = account_external_id("北海道フーズ")
    assert decision == AccountDecision(AccountLink("北海道フーズ", external_id=ext), create=True)


def test_an_account_we_already_wrote_is_still_linked_by_external_id_but_not_created_again():
    ext = account_external_id("北海道フーズ")
    decision = decide_account("北海道フーズ", {}, written={ext: "001Z"})
    # by external ID even though its Id is known: the Contact's payload must not change
    assert decision == AccountDecision(AccountLink("北海道フーズ", external_id=ext), create=False)


def test_a_person_without_a_company_has_no_account():
    assert decide_account("", {"": "001A"}, written=set()) == AccountDecision(None, create=False)


def test_the_external_id_is_derived_from_the_company_key_alone():
    assert account_external_id("東京システム") == account_external_id("東京システム")
    assert account_external_id("東京システム") != account_external_id("大阪物産")
    assert account_external_id("東京システム").startswith("K")
    assert len(account_external_id("東京システム")) == 25
