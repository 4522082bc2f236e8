"""Kite apps and accounts, with api secrets and access tokens sealed at rest."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from kite_gateway.storage.database import Database, now_text
from kite_gateway.storage.sealing import KEY_CHECK_PLAINTEXT, Sealer, SealingError


@dataclass(frozen=True)
class StoredAccount:
    account_id: str
    api_key: str
    user_name: str
    access_token: str | None
    login_time: datetime | None
    token_expires_at: datetime | None
    created_at: datetime
    paper: bool


def unopened_message(location: str, key_count: int) -> str:
    """What to do when no key of the set opens the stored secrets: add the key they were sealed with."""
    which = "the secret key does not open" if key_count == 1 else f"none of the {key_count} secret keys opens"
    return (
        f"{which} the credentials stored in {location}; start with the key they were sealed with "
        "(KITE_GATEWAY_SECRET_KEY or KITE_GATEWAY_SECRET_KEY_FILE). When rotating keys, list the new key first "
        "and the old one after it (KITE_GATEWAY_SECRET_KEY=NEW,OLD, or one key a line in the file), run "
        "`kite-gateway rekey`, and only then remove the old key"
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class CredentialStore:
    """Apps (api_key, sealed api_secret) and accounts (sealed access token, session times)."""

    def __init__(self, database: Database, sealer: Sealer) -> None:
        self.database = database
        self.sealer = sealer

    async def check_key(self) -> None:
        """Seal a known value under a new database's key; on later starts, prove the key still opens it.
        Replicas starting together on a new database each offer theirs; every one checks the one stored."""
        await self.database.execute(
            "INSERT INTO meta (name, value) VALUES ('key_check', ?) ON CONFLICT (name) DO NOTHING",
            (self.sealer.seal(KEY_CHECK_PLAINTEXT),),
        )
        row = await self.database.fetch_one("SELECT value FROM meta WHERE name = 'key_check'")
        assert row is not None
        try:
            self.sealer.unseal(row["value"])
        except SealingError:
            raise SealingError(unopened_message(self.database.location, self.sealer.key_count)) from None

    async def hashing_key(self) -> bytes:
        """A random secret for keyed hashes of stored trading data (order updates' de-duplication keys),
        made once per database and kept sealed in meta: the same on every replica, and unchanged by a key
        rotation (rekey re-seals it, so the hashes stored under it stay valid)."""
        await self.database.execute(
            "INSERT INTO meta (name, value) VALUES ('hashing_key', ?) ON CONFLICT (name) DO NOTHING",
            (self.sealer.seal(secrets.token_hex(32)),),
        )
        row = await self.database.fetch_one("SELECT value FROM meta WHERE name = 'hashing_key'")
        assert row is not None
        return bytes.fromhex(self.sealer.unseal(row["value"]))

    async def save_app(self, api_key: str, api_secret: str) -> None:
        await self.database.execute(
            "INSERT INTO apps (api_key, sealed_api_secret, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(api_key) DO UPDATE SET sealed_api_secret = excluded.sealed_api_secret",
            (api_key, self.sealer.seal(api_secret), now_text()),
        )

    async def app_secret(self, api_key: str) -> str | None:
        row = await self.database.fetch_one("SELECT sealed_api_secret FROM apps WHERE api_key = ?", (api_key,))
        return self.sealer.unseal(row["sealed_api_secret"]) if row else None

    async def save_account(
        self,
        account_id: str,
        api_key: str,
        user_name: str,
        access_token: str,
        login_time: datetime,
        token_expires_at: datetime,
        paper: bool,
    ) -> None:
        await self.database.execute(
            "INSERT INTO accounts (account_id, api_key, user_name, sealed_access_token, login_time, token_expires_at, "
            "created_at, paper) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET "
            "api_key = excluded.api_key, user_name = excluded.user_name, "
            "sealed_access_token = excluded.sealed_access_token, login_time = excluded.login_time, "
            "token_expires_at = excluded.token_expires_at, paper = excluded.paper",
            (account_id, api_key, user_name, self.sealer.seal(access_token), login_time.isoformat(),
             token_expires_at.isoformat(), now_text(), int(paper)),
        )  # fmt: skip

    async def forget_token(self, account_id: str) -> None:
        await self.database.execute(
            "UPDATE accounts SET sealed_access_token = NULL WHERE account_id = ?", (account_id,)
        )

    async def remove_account(self, account_id: str) -> bool:
        return await self.database.execute("DELETE FROM accounts WHERE account_id = ?", (account_id,)) > 0

    async def accounts(self) -> list[StoredAccount]:
        rows = await self.database.fetch_all("SELECT * FROM accounts ORDER BY account_id")
        return [
            StoredAccount(
                account_id=row["account_id"],
                api_key=row["api_key"],
                user_name=row["user_name"],
                access_token=self.sealer.unseal(row["sealed_access_token"]) if row["sealed_access_token"] else None,
                login_time=_time(row["login_time"]),
                token_expires_at=_time(row["token_expires_at"]),
                created_at=datetime.fromisoformat(row["created_at"]),
                paper=bool(row["paper"]),
            )
            for row in rows
        ]
