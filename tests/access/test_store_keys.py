"""API keys on a real database (SQLite and PostgreSQL): hashed, verified, revoked."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from access.config import StoreSettings
from access.records import KeyNameTakenError, UnknownKeyError, hash_token, looks_like_token
from access.roles import Role
from access.schema import api_keys
from access.store import Store


def test_a_key_is_high_entropy_and_only_its_hash_is_stored(store: Store):
    issued = store.create_key("asha.school", Role.practitioner)
    token = issued.token
    assert looks_like_token(token)
    assert token.startswith(f"lantern_{issued.key.key_id}_")
    assert len(token.split("_", 2)[2]) >= 43  # 32 random bytes, base64url
    with store.engine.connect() as conn:
        rows = conn.execute(select(api_keys)).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert token not in stored and token.split("_", 2)[2] not in stored
    assert rows[0]["key_hash"] == hash_token(token)
    assert store.create_key("bo.yjs", "practitioner").token != token


def test_verify_finds_the_key_and_refuses_anything_else(store: Store):
    token = store.create_key("cara.analyst", "analyst").token
    key = store.verify_key(token)
    assert (key.name, key.role, key.revoked) == ("cara.analyst", "analyst", False)
    prefix, key_id, secret = token.split("_", 2)
    altered = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    assert store.verify_key(altered) is None
    assert store.verify_key("not-a-key") is None
    assert store.verify_key("") is None


def test_list_shows_every_key_without_secrets(store: Store):
    store.create_key("a.one", "practitioner")
    store.create_key("b.two", "auditor")
    keys = store.list_keys()
    assert [(k.name, k.role) for k in keys] == [("a.one", "practitioner"), ("b.two", "auditor")]
    assert all(k.created_at.tzinfo is not None for k in keys)
    assert not any(hasattr(k, "token") for k in keys)


class FakeClock:
    """A clock for the key cache that moves only when the test moves it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_revoked_keys_are_known_as_revoked_and_names_are_never_reused(store_url: str):
    # The cache is off in one store (like another worker process) and on in the other,
    # whose clock the test moves by hand.
    clock = FakeClock()
    cache_seconds = 10.0
    fresh = Store(StoreSettings(url=store_url, key_cache_seconds=0))
    caching = Store(StoreSettings(url=store_url, key_cache_seconds=cache_seconds), clock=clock)
    try:
        token = fresh.create_key("dee.social-work", "practitioner").token
        verified_at = clock.now
        assert not caching.verify_key(token).revoked
        revoked = fresh.revoke_key("dee.social-work")
        assert revoked.revoked and revoked.revoked_at >= revoked.created_at
        assert fresh.verify_key(token).revoked
        assert fresh.cached_key(token) is None, "a store without a cache remembers nothing"
        # the caching process trusts its verified key until the cache time runs out ...
        clock.now = verified_at + cache_seconds / 2
        assert caching.cached_key(token) is not None
        assert not caching.verify_key(token).revoked, "the cached key is answered, no I/O"
        # ... and not a moment longer: then it asks the database, which says revoked
        clock.now = verified_at + cache_seconds
        assert caching.cached_key(token) is None
        assert caching.verify_key(token).revoked
        # revoking again changes nothing
        assert fresh.revoke_key("dee.social-work").revoked_at == revoked.revoked_at
        with pytest.raises(KeyNameTakenError, match="never reused"):
            fresh.create_key("dee.social-work", "practitioner")
        with pytest.raises(UnknownKeyError, match="lantern keys list"):
            fresh.revoke_key("nobody")
    finally:
        fresh.close()
        caching.close()


def test_revoking_in_this_process_forgets_the_cached_key(store: Store):
    token = store.create_key("eve.ed-navigator", "practitioner").token
    assert not store.verify_key(token).revoked
    store.revoke_key("eve.ed-navigator")
    assert store.verify_key(token).revoked


def test_bad_names_and_roles_are_refused_by_the_store_and_the_database(store: Store):
    with pytest.raises(ValueError, match="letters, digits"):
        store.create_key("has space", "analyst")
    with pytest.raises(ValueError, match="practitioner, analyst, auditor"):
        store.create_key("fay", "admin")
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                name="x",
                key_id="0" * 12,
                key_hash="0" * 64,
                role="admin",
                created_at=datetime.now(UTC),
            )
        )


def test_a_key_expires_when_it_was_issued_to_and_records_its_last_use(store: Store):
    from datetime import timedelta

    issued = store.create_key("dee.demo", "practitioner", expires_in=timedelta(days=1))
    expires = issued.key.expires_at
    assert timedelta(hours=23) < expires - issued.key.created_at <= timedelta(days=1)
    assert not issued.key.expired()
    assert issued.key.expired(expires)
    assert store.list_keys()[0].last_used_at is None
    found = store.verify_key(issued.token)
    (listed,) = store.list_keys()
    assert listed.expires_at == expires and listed.last_used_at == found.last_used_at
    assert listed.last_used_at >= listed.created_at
    with pytest.raises(ValueError, match="expire later"):
        store.create_key("eve", "practitioner", expires_in=timedelta(0))
