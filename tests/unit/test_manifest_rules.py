"""The redirector's merge rules: which shard copies are served, which go, when the table is whole.

Plain data in and out (`ShardLedger`), without a table or an API; the component tier follows the
same rules through the follower and the app, and the cluster tier on the real API server.
"""

from shortlink_redirector.manifest import ShardLedger


def ledger(listed: dict[str, str] | None, **served: str) -> ShardLedger:
    book = ShardLedger(listed=listed)
    for name, digest in served.items():
        book.shard_loaded(name, digest)
    return book


def test_a_deleted_shard_stays_while_the_manifest_lists_it() -> None:
    book = ledger({"a": "1", "b": "2"}, a="1", b="2")
    assert book.shard_deleted("a") is False
    assert book.served == {"a": "1", "b": "2"}
    assert book.unconfirmed == ["a"]
    assert book.complete  # what is served is the whole table


def test_a_deleted_shard_goes_once_the_manifest_stops_listing_it() -> None:
    book = ledger({"a": "1", "b": "2"}, a="1", b="2")
    book.shard_deleted("a")
    assert book.manifest_loaded({"b": "2"}) == ["a"]
    assert book.served == {"b": "2"}
    assert book.complete
    assert book.unconfirmed == []


def test_a_deleted_shard_the_manifest_no_longer_lists_goes_at_once() -> None:
    book = ledger({"b": "2"}, a="1", b="2")
    assert book.shard_deleted("a") is True
    assert book.served == {"b": "2"}


def test_a_manifest_never_takes_a_shard_that_still_exists() -> None:
    # The shard was written after the manifest (which lists it next): it is newer, not stray.
    book = ledger({"a": "1"}, a="1", new="9")
    assert book.manifest_loaded({"a": "1"}) == []
    assert "new" in book.served


def test_a_copy_newer_than_the_manifest_is_served_and_reported_until_confirmed() -> None:
    book = ledger({"a": "1"}, a="1")
    book.shard_loaded("a", "2")
    assert book.served == {"a": "2"}
    assert book.mismatched("a")
    assert book.unconfirmed == ["a"]
    assert not book.complete
    book.manifest_loaded({"a": "2"})
    assert not book.mismatched("a")
    assert book.complete


def test_an_unreadable_shard_keeps_its_last_good_copy_and_is_reported() -> None:
    book = ledger({"a": "1"}, a="1")
    book.shard_unreadable("a")
    assert book.served == {"a": "1"}
    assert book.unconfirmed == ["a"]


def test_incomplete_without_a_manifest_or_with_a_listed_shard_never_read() -> None:
    assert not ledger(None, a="1").complete
    book = ledger({"a": "1", "b": "2"}, a="1")
    book.shard_unreadable("b")
    assert not book.complete
    assert book.unconfirmed == ["b"]
    assert ledger({}).complete  # an empty table is a whole table


def test_a_relisting_drops_what_is_gone_and_unlisted_and_keeps_the_rest() -> None:
    book = ledger({"a": "1", "b": "2"}, a="1", b="2", c="3")
    book.manifest_loaded({"a": "1", "b": "2"})
    assert book.relisted(["b"]) == ["c"]  # a is listed: kept; c is neither
    assert sorted(book.served) == ["a", "b"]
    assert book.unconfirmed == ["a"]
