"""The egress map: which egress each account's writes use (by account id, then api_key, then the
default), every mistake in the file refused with the group and the fix, and the accounts sharing
one IP counted against the family size."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from kite_gateway.kite.caller import KiteConnector
from kite_gateway.kite.egress import Egress, EgressConfigError, EgressMap, redact_proxy
from kite_gateway.kite.egress_adapters import ProxyAdapter
from kite_gateway.kite.limits import RateLimits
from kite_gateway.kite.transport import HttpTransport, ThreadedTransport

MAP = """
[egress.family-a]
source_address = "10.0.1.10"
registered_ip = "203.0.113.10"
api_keys = ["key_a"]
accounts = ["ZS0009"]

[egress.family-b]
proxy = "socks5h://user:secret@10.0.2.5:1080"
accounts = ["ZS0002"]
"""


def test_an_account_uses_its_own_group_then_its_apps_group_then_the_default() -> None:
    egresses = EgressMap.parse(MAP)
    assert egresses.egress("ZS0001", "key_a").name == "family-a"  # by its app
    assert egresses.egress("ZS0002", "key_a").name == "family-b"  # by its id, over its app's group
    assert egresses.egress("ZS0009", "key_z").source_address == "10.0.1.10"
    assert egresses.egress("", "key_a").name == "family-a"  # a login not yet made: by its app
    assert egresses.egress("ZS0003", "key_z") == Egress()  # the host's default route
    assert not Egress().routed and egresses.egress("ZS0002", "k").routed


def test_a_default_table_is_the_egress_of_every_account_not_listed() -> None:
    egresses = EgressMap.parse(MAP + '\n[default]\nproxy = "http://10.0.9.9:3128"\n')
    assert egresses.egress("ZS0003", "key_z").proxy == "http://10.0.9.9:3128"
    assert [e.name for e in egresses.egresses()] == ["family-a", "family-b", "default"]


def test_no_file_puts_every_account_on_the_hosts_default_route(tmp_path: Path) -> None:
    egresses = EgressMap.load(None)
    assert egresses.egress("ZS0001", "key") == Egress() and egresses.egresses() == (Egress(),)
    path = tmp_path / "egress.toml"
    path.write_text(MAP)
    assert EgressMap.load(path, family_size=2).family_size == 2
    with pytest.raises(EgressConfigError, match="cannot be read"):
        EgressMap.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[egress.a]\nsource_address = "10.0.0.1"\nproxy = "http://h:1"\naccounts = ["X"]', "exactly one of"),
        ('[egress.a]\naccounts = ["X"]', "exactly one of"),
        ('[egress.a]\nsource_address = "10.0.0.300"\naccounts = ["X"]', "not an IP address"),
        ('[egress.a]\nproxy = "ftp://h:21"\naccounts = ["X"]', "must be a proxy URL"),
        ('[egress.a]\nproxy = "http://h"\naccounts = ["X"]', "with a port"),
        ('[egress.a]\nsource_address = "10.0.0.1"', "neither accounts nor api_keys"),
        ('[egress.a]\nsource_address = "10.0.0.1"\naccounts = ["X"]\nport = 1', "unknown keys"),
        ('[egress.a]\nsource_address = "10.0.0.1"\naccounts = "X"', "list of names"),
        ('[egress.a]\nsource_address = "10.0.0.1"\naccounts = ["X"]\n[egress.b]\nproxy = "http://h:1"\n'
         'accounts = ["X"]', 'already in group "a"'),
        ('[egress.default]\nsource_address = "10.0.0.1"\naccounts = ["X"]', "not \"default\""),
        ('[groups.a]\nsource_address = "10.0.0.1"', "unknown sections"),
        ('[default]\nsource_address = "10.0.0.1"\naccounts = ["X"]', "unknown keys"),
        ("[egress.a", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_map_is_refused_naming_the_group_and_the_fix(text: str, says: str) -> None:
    with pytest.raises(EgressConfigError, match=says):
        EgressMap.parse(text, "egress.toml")


def test_a_proxys_credentials_never_reach_a_message() -> None:
    with pytest.raises(EgressConfigError) as refused:
        EgressMap.parse('[egress.a]\nproxy = "gopher://user:secret@h:1"\naccounts = ["X"]')
    assert "secret" not in str(refused.value)
    family_b = EgressMap.parse(MAP).egress("ZS0002", "")
    assert "secret" not in family_b.describe() and "10.0.2.5:1080" in family_b.describe()
    assert redact_proxy("http://[::1]:3128") == "http://[::1]:3128"
    assert redact_proxy("http://u:p@[::1]:3128") == "http://***@[::1]:3128"


def test_accounts_sharing_one_ip_beyond_the_family_size_are_flagged() -> None:
    egresses = EgressMap.parse(MAP, family_size=2)
    accounts = [("ZS0001", "key_a"), ("ZS0004", "key_a"), ("ZS0009", "key_z"), ("ZS0002", "key_a"), ("ZS0005", "k")]
    shared = {s.ip: s for s in egresses.sharing(accounts)}
    assert shared["203.0.113.10"].accounts == ("ZS0001", "ZS0004", "ZS0009")
    assert shared["203.0.113.10"].over_family_size
    assert not shared["proxy 10.0.2.5"].over_family_size
    assert shared["the host's default route"].accounts == ("ZS0005",)
    assert egresses.accounts_per_egress(accounts) == {"family-a": 3, "family-b": 1, "default": 1}


def test_an_egress_describes_itself_for_the_person_who_must_register_its_ip() -> None:
    family_a = EgressMap.parse(MAP).egress("ZS0009", "")
    assert family_a.describe() == 'egress "family-a" (source address 10.0.1.10, registered IP 203.0.113.10)'
    assert "no egress is mapped" in Egress().describe()


def test_the_connector_warns_once_per_count_when_an_ip_carries_more_than_a_family() -> None:
    egresses = EgressMap.parse(MAP, family_size=2)
    with ThreadPoolExecutor(max_workers=1) as executor:
        connector = KiteConnector(executor, RateLimits(10, 10), "http://127.0.0.1:9", 1.0, 0, egresses)
        with capture_logs() as logs:
            connector.caller("ZS0001", "key_a", "t")
            connector.caller("ZS0009", "key_z", "t")  # two on 203.0.113.10: a family may
            connector.caller("", "key_a", None)  # a login not yet made is no account
            assert logs == []
            connector.caller("ZS0004", "key_a", "t")
            connector.caller("ZS0004", "key_a", "t2")  # the same account again: no new warning
            connector.caller("ZS0006", "key_a", "t")
    warnings = [entry for entry in logs if entry["event"] == "egress.shared_beyond_family"]
    assert [w["accounts"] for w in warnings] == [
        ["ZS0001", "ZS0004", "ZS0009"],
        ["ZS0001", "ZS0004", "ZS0006", "ZS0009"],
    ]
    assert warnings[0]["ip"] == "203.0.113.10" and warnings[0]["egresses"] == ["family-a"]
    assert warnings[0]["log_level"] == "warning" and "family" in warnings[0]["advice"]


def test_a_caller_gets_its_accounts_egress_for_its_writes_and_the_shared_transport_for_its_reads() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        connector = KiteConnector(executor, RateLimits(10, 10), "http://127.0.0.1:9", 1.0, 0, EgressMap.parse(MAP))
        proxied = connector.caller("ZS0002", "key_b", "t")
        bound = connector.caller("ZS0001", "key_a", "t")
        plain = connector.caller("ZS0003", "key_z", "t")
    transports = connector.transports
    assert (proxied.egress.name, bound.egress.name, plain.egress.name) == ("family-b", "family-a", "default")
    proxied_writes, bound_writes = transports.writes(proxied.egress), transports.writes(bound.egress)
    assert isinstance(proxied_writes, ThreadedTransport)
    adapter = proxied_writes.session.get_adapter("http://x")
    assert isinstance(adapter, ProxyAdapter) and adapter.proxy == "socks5h://user:secret@10.0.2.5:1080"
    assert isinstance(bound_writes, HttpTransport) and bound_writes.source_address == "10.0.1.10"
    assert not bound_writes.trust_env  # a bound source address never goes through an environment proxy
    assert transports.writes(plain.egress) is transports.default
    assert transports.calls(proxied.egress).reads is transports.default  # reads take the default route
