"""Rotating the sealing key across restarts: key A, then keys "B,A" and a rekey, then B alone; on
both backends. A "restart" closes the database and opens it again with a new key set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kite_gateway.storage import (
    AtRest,
    AuditLog,
    CredentialStore,
    Database,
    OrderUpdateLog,
    Sealer,
    SealingError,
    open_database,
    rekey,
)

A, B = Sealer.generate_key(), Sealer.generate_key()
LOGIN = datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
ORDER = {"order_id": "250101000000001", "tradingsymbol": "INFY", "status": "OPEN", "quantity": 5, "price": 1500}
BODY = '{"account_id": "ZS0001", "tradingsymbol": "INFY", "quantity": 5}'


async def _opened(database_url: str | None, tmp_path: Path, *keys: bytes) -> CredentialStore:
    database = open_database(database_url, tmp_path)
    await database.open()
    store = CredentialStore(database, Sealer(list(keys)))
    try:
        await store.check_key()
    except SealingError:
        await database.close()
        raise
    return store


async def _store_credentials(store: CredentialStore) -> None:
    await store.save_app("app_key", "app secret")
    for account_id in ("ZS0001", "ZS0002"):
        await store.save_account(account_id, "app_key", "User", f"token-{account_id}", LOGIN,
                                 LOGIN + timedelta(hours=20), paper=False)  # fmt: skip
    await store.save_account("ZS0003", "app_key", "User", "dropped", LOGIN, LOGIN, paper=False)
    await store.forget_token("ZS0003")  # an account without a token: nothing to re-seal


async def _trading_data(store: CredentialStore) -> tuple[OrderUpdateLog, AuditLog]:
    return OrderUpdateLog(store.database, AtRest(store.sealer, await store.hashing_key())), AuditLog(
        store.database, store.sealer
    )


async def _store_trading_data(store: CredentialStore) -> None:
    updates, audit = await _trading_data(store)
    await OrderUpdateLog(store.database).append("ZS0001", {**ORDER, "status": "PUT ORDER REQ RECEIVED"}, 1)  # clear
    await updates.append("ZS0001", ORDER, 1)
    await AuditLog(store.database).append(LOGIN, "ops", "ZS0001", 1, "c1", "", BODY, 0, "placed", 1.0)  # clear
    await audit.append(LOGIN, "ops", "ZS0001", 1, "c2", "", BODY, 0, "placed", 1.0)


async def _sealed_values(database: Database) -> list[str]:
    rows = await database.fetch_all(
        "SELECT sealed_api_secret AS v FROM apps UNION ALL SELECT sealed_access_token FROM accounts "
        "WHERE sealed_access_token IS NOT NULL UNION ALL SELECT value FROM meta UNION ALL "
        "SELECT payload FROM order_updates UNION ALL SELECT request_json FROM audit"
    )
    return [row["v"] for row in rows]


async def test_credentials_and_trading_data_sealed_under_a_survive_rotation_to_b_through_rekey(
    database_url: str | None, tmp_path: Path
) -> None:
    first = await _opened(database_url, tmp_path, A)
    await _store_credentials(first)
    await _store_trading_data(first)
    await first.database.close()

    second = await _opened(database_url, tmp_path, B, A)  # the new key first, the old one still there
    assert [a.access_token for a in await second.accounts()] == ["token-ZS0001", "token-ZS0002", None]
    counts = await rekey(second.database, second.sealer)
    assert counts == {"api secrets": 1, "access tokens": 2, "order updates": 2, "audit request bodies": 2,
                      "hashing key": 1, "key check": 1}  # fmt: skip
    assert set((await rekey(second.database, second.sealer)).values()) == {0}  # a second rekey changes nothing
    await second.database.close()

    third = await _opened(database_url, tmp_path, B)  # the old key removed
    try:
        assert [a.access_token for a in await third.accounts()] == ["token-ZS0001", "token-ZS0002", None]
        assert await third.app_secret("app_key") == "app secret"
        assert all(Sealer(B).unseal(value) for value in await _sealed_values(third.database))
        updates, audit = await _trading_data(third)
        assert [u.order["status"] for u in await updates.after("ZS0001", 0)] == ["PUT ORDER REQ RECEIVED", "OPEN"]
        assert await updates.append("ZS0001", ORDER, 2) is None  # still known as a repeat under the new key
        assert [e.request_json for e in await audit.query("ZS0001", None, None, "", "", 0, 10)] == [BODY, BODY]
    finally:
        await third.database.close()


async def test_the_new_key_alone_before_rekey_fails_naming_what_to_do(database_url: str | None, tmp_path: Path) -> None:
    first = await _opened(database_url, tmp_path, A)
    await _store_credentials(first)
    await first.database.close()
    with pytest.raises(SealingError, match="does not open the credentials stored in") as alone:
        await _opened(database_url, tmp_path, B)
    assert "NEW,OLD" in str(alone.value) and "kite-gateway rekey" in str(alone.value)
    with pytest.raises(SealingError, match="none of the 2 secret keys opens"):
        await _opened(database_url, tmp_path, B, Sealer.generate_key())


async def test_an_interrupted_rekey_leaves_everything_sealed_by_the_old_key(
    database_url: str | None, tmp_path: Path
) -> None:
    first = await _opened(database_url, tmp_path, A)
    await _store_credentials(first)

    class Interrupted(Sealer):
        calls = 0

        def reseal(self, sealed: str) -> str | None:
            self.calls += 1
            if self.calls == 3:  # after the api secret and one access token
                raise KeyboardInterrupt
            return super().reseal(sealed)

    with pytest.raises(KeyboardInterrupt):
        await rekey(first.database, Interrupted([B, A]))
    try:
        assert all(Sealer(A).unseal(value) for value in await _sealed_values(first.database))
    finally:
        await first.database.close()
    again = await _opened(database_url, tmp_path, B, A)  # and rekeying again finishes the job
    try:
        assert sum((await rekey(again.database, again.sealer)).values()) == 4  # the app, 2 tokens, the key check
    finally:
        await again.database.close()
    last = await _opened(database_url, tmp_path, B)
    try:
        assert [a.access_token for a in await last.accounts()] == ["token-ZS0001", "token-ZS0002", None]
    finally:
        await last.database.close()
