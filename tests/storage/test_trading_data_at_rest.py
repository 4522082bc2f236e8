"""Order-update payloads and audit request bodies are sealed at rest, de-duplication keys are keyed
hashes, and what an older version stored in the clear is still read (and hashed at start); on both
backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kite_gateway.storage import AtRest, AuditLog, CredentialStore, Database, OrderUpdateLog, Sealer
from kite_gateway.storage.order_updates import HASHED_VERSION, dedupe_key

ORDER = {"order_id": "250101000000007", "tradingsymbol": "RELIANCE", "status": "OPEN", "quantity": 12, "price": 2950}
BODY = json.dumps({"account_id": "ZS0001", "tradingsymbol": "RELIANCE", "quantity": 12, "price": "2950"})


async def _at_rest(database: Database) -> AtRest:
    store = CredentialStore(database, Sealer(Sealer.generate_key()))
    await store.check_key()
    return AtRest(store.sealer, await store.hashing_key())


async def _raw(database: Database, sql: str) -> str:
    return " ".join(str(value) for row in await database.fetch_all(sql) for value in tuple(row))


async def test_order_fields_are_not_readable_in_the_stored_order_updates(database: Database) -> None:
    log = OrderUpdateLog(database, await _at_rest(database))
    assert await log.append("ZS0001", ORDER, 1) is not None
    assert await log.append("ZS0001", {**ORDER, "quantity": 12.0}, 2) is None  # the same change, still recognised
    stored = await _raw(database, "SELECT dedupe_key, payload FROM order_updates")
    assert "RELIANCE" not in stored and "2950" not in stored and "OPEN" not in stored
    assert [u.order for u in await log.after("ZS0001", 0)] == [ORDER]
    assert await log.latest_by_order("ZS0001") == {ORDER["order_id"]: log.key_of(ORDER)}


async def test_the_hashing_key_is_one_per_database_whichever_process_makes_it(database: Database) -> None:
    sealer = Sealer(Sealer.generate_key())
    first, second = CredentialStore(database, sealer), CredentialStore(database, sealer)
    await first.check_key()
    assert await first.hashing_key() == await second.hashing_key()


async def test_updates_stored_in_the_clear_by_an_older_version_are_read_and_their_keys_hashed(
    database: Database,
) -> None:
    await OrderUpdateLog(database).append("ZS0001", ORDER, 1)  # as an older version stored it
    log = OrderUpdateLog(database, await _at_rest(database))
    assert await log.rekey() == 1  # what App.open does at start
    assert await log.rekey() == 0
    stored_key = await _raw(database, "SELECT dedupe_key FROM order_updates")
    assert stored_key.startswith(HASHED_VERSION) and stored_key != dedupe_key(ORDER)
    assert [u.order for u in await log.after("ZS0001", 0)] == [ORDER]
    assert await log.append("ZS0001", ORDER, 2) is None  # a repeat of the old update is still a repeat


async def test_audit_request_bodies_are_sealed_and_listed_as_sent(database: Database) -> None:
    at_rest = await _at_rest(database)
    when = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
    await AuditLog(database).append(when, "ops", "ZS0001", 1, "old", "", BODY, 0, "placed", 1.0)  # older version
    audit = AuditLog(database, at_rest.sealer)
    await audit.append(when, "ops", "ZS0001", 1, "new", "250101000000007", BODY, 0, "placed", 1.0)
    stored = await _raw(database, "SELECT request_json FROM audit WHERE client_order_id = 'new'")
    assert "RELIANCE" not in stored
    entries = await audit.query("ZS0001", None, None, "", "", 0, 10)
    assert [(e.client_order_id, e.request_json) for e in entries] == [("old", BODY), ("new", BODY)]
    assert [e.client_order_id for e in await audit.query("ZS0001", None, None, "", "250101000000007", 0, 10)] == ["new"]
