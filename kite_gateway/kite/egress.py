"""Which way each account's calls to Kite leave this host: the egress map.

Since 2026-04-01 Kite accepts order calls (place, modify, cancel) only from an IP registered for the
developer account that owns the app (kite_wire/static_ip.py). A gateway serving the accounts of
several developer accounts therefore sends each one's order calls out through the egress whose
public IP that developer account registered: a local source address to bind (an address of this
host, or a private address a NAT gateway maps to the registered IP), or an HTTP(S) or SOCKS proxy
that leaves from it. Reads may leave from any IP and take the host's default route.

The map is a TOML file (KITE_GATEWAY_EGRESS_FILE), one table per egress group:

    [egress.family-a]
    source_address = "10.0.1.10"        # bind this local address (IPv4 or IPv6) ...
    registered_ip = "203.0.113.10"      # optional: the IP registered at Kite, when a NAT changes it
    api_keys = ["kitekey_a"]            # every account of these apps
    accounts = ["AB1234"]               # and these accounts, whatever their app

    [egress.family-b]
    proxy = "socks5h://10.0.2.5:1080"   # ... or leave through this proxy (http, https, socks5, socks5h)
    accounts = ["CD5678"]

    [default]                           # optional: the egress of every account not listed above
    proxy = "http://10.0.9.9:3128"

An account listed by id uses that group even when its api_key is listed in another; an id or an
api_key may be listed in one group only. Accounts in no group, with no [default], use the host's
default route. A login's session exchange, made before its account is known, uses its api_key's
group. An IPv6 source address reaches Kite only over IPv6 (an IPv4 one only over IPv4).
Everything is checked when the file is read; `kite_gateway/kite/egress_checks.py` checks at start
that each address is local and each proxy reachable.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_FAMILY_SIZE = 4
DEFAULT_ROUTE = "default"
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_GROUP_KEYS = frozenset({"source_address", "proxy", "registered_ip", "api_keys", "accounts"})
_DEFAULT_KEYS = frozenset({"source_address", "proxy", "registered_ip"})


class EgressConfigError(ValueError):
    """The egress map is invalid, or an egress cannot be used; the message names the group and the fix."""


@dataclass(frozen=True)
class Egress:
    """One way out: `source_address` to bind, or `proxy` to go through, or neither (the host's
    default route). `registered_ip` is the public IP Kite sees, when the operator declared it."""

    name: str = DEFAULT_ROUTE
    source_address: str | None = None
    proxy: str | None = None
    registered_ip: str | None = None

    @property
    def routed(self) -> bool:
        """Whether this egress changes anything (False: the host's default route)."""
        return self.source_address is not None or self.proxy is not None

    @property
    def shared_ip(self) -> str:
        """What Kite sees the calls come from, as far as the gateway knows: the registered IP when
        declared, else the source address, else the proxy's host, else the host's default route."""
        if self.registered_ip:
            return self.registered_ip
        if self.source_address:
            return self.source_address
        if self.proxy:
            return f"proxy {proxy_endpoint(self.proxy)[0]}"
        return "the host's default route"

    def describe(self) -> str:
        """The egress for a person, e.g. 'egress "family-a" (source address 10.0.1.10, registered IP
        203.0.113.10)'."""
        if not self.routed and self.name == DEFAULT_ROUTE:
            return "the host's default route (no egress is mapped to it in KITE_GATEWAY_EGRESS_FILE)"
        parts = []
        if self.source_address:
            parts.append(f"source address {self.source_address}")
        if self.proxy:
            parts.append(f"proxy {redact_proxy(self.proxy)}")
        if self.registered_ip:
            parts.append(f"registered IP {self.registered_ip}")
        return f'egress "{self.name}" ({", ".join(parts) or "the host default route"})'


@dataclass(frozen=True)
class SharedEgress:
    """How many accounts leave through one IP, and whether that is more than a family's size."""

    ip: str
    egresses: tuple[str, ...]
    accounts: tuple[str, ...]
    family_size: int

    @property
    def over_family_size(self) -> bool:
        return len(self.accounts) > self.family_size


@dataclass(frozen=True)
class EgressMap:
    """Each account's egress, by account id first, then by api_key, else the default."""

    groups: tuple[Egress, ...] = ()
    by_account: Mapping[str, str] = field(default_factory=dict)
    by_api_key: Mapping[str, str] = field(default_factory=dict)
    default: Egress = Egress()
    family_size: int = DEFAULT_FAMILY_SIZE

    def egress(self, account_id: str, api_key: str) -> Egress:
        """The egress of an account's calls (`account_id` "" for a login not yet made: by api_key)."""
        name = self.by_account.get(account_id) if account_id else None
        name = name or self.by_api_key.get(api_key)
        return self._named(name) if name else self.default

    def egresses(self) -> tuple[Egress, ...]:
        """Every egress the gateway may use, the default last."""
        return (*self.groups, self.default)

    def _named(self, name: str) -> Egress:
        return next(group for group in self.groups if group.name == name)

    def sharing(self, accounts: Iterable[tuple[str, str]]) -> list[SharedEgress]:
        """The accounts (account_id, api_key) grouped by the IP their order calls leave from."""
        by_ip: dict[str, tuple[set[str], set[str]]] = {}
        for account_id, api_key in accounts:
            egress = self.egress(account_id, api_key)
            names, ids = by_ip.setdefault(egress.shared_ip, (set(), set()))
            names.add(egress.name)
            ids.add(account_id)
        return [
            SharedEgress(ip, tuple(sorted(names)), tuple(sorted(ids)), self.family_size)
            for ip, (names, ids) in sorted(by_ip.items())
        ]

    def accounts_per_egress(self, accounts: Iterable[tuple[str, str]]) -> dict[str, int]:
        """How many of these accounts each egress carries (every egress, also those with none)."""
        counts = Counter(self.egress(account_id, api_key).name for account_id, api_key in accounts)
        return {egress.name: counts.get(egress.name, 0) for egress in self.egresses()}

    @classmethod
    def load(cls, path: Path | None, family_size: int = DEFAULT_FAMILY_SIZE) -> EgressMap:
        """The map in `path` (None: every account on the host's default route)."""
        if path is None:
            return cls(family_size=family_size)
        try:
            text = path.read_text()
        except OSError as exc:
            raise EgressConfigError(f"KITE_GATEWAY_EGRESS_FILE {path}: cannot be read ({exc.strerror})") from None
        return cls.parse(text, str(path), family_size)

    @classmethod
    def parse(cls, text: str, source: str = "egress map", family_size: int = DEFAULT_FAMILY_SIZE) -> EgressMap:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise EgressConfigError(f"{source}: not valid TOML: {exc}") from None
        unknown = set(document) - {"egress", "default"}
        if unknown:
            raise EgressConfigError(f"{source}: unknown sections {sorted(unknown)}; use [egress.<group>] and [default]")
        tables = document.get("egress", {})
        if not isinstance(tables, Mapping):
            raise EgressConfigError(f"{source}: egress groups are tables like [egress.family-a]")
        groups: list[Egress] = []
        by_account: dict[str, str] = {}
        by_api_key: dict[str, str] = {}
        for name, table in tables.items():
            where = f"{source} [egress.{name}]"
            if not _NAME.match(name) or name == DEFAULT_ROUTE:
                raise EgressConfigError(
                    f'{where}: a group name is 1-64 letters, digits, "_", "." or "-", not "default"'
                )
            groups.append(_egress(name, table, where, _GROUP_KEYS))
            for kind, index in (("accounts", by_account), ("api_keys", by_api_key)):
                for item in _names(table.get(kind, []), f"{where} {kind}"):
                    if item in index:
                        raise EgressConfigError(
                            f'{where}: {kind} {item} is already in group "{index[item]}"; list it in one group only'
                        )
                    index[item] = name
            if not table.get("accounts") and not table.get("api_keys"):
                raise EgressConfigError(f"{where}: lists neither accounts nor api_keys; say whose orders use it")
        default = Egress()
        if "default" in document:
            default = _egress(DEFAULT_ROUTE, document["default"], f"{source} [default]", _DEFAULT_KEYS)
        return cls(tuple(groups), by_account, by_api_key, default, family_size)


def _egress(name: str, table: object, where: str, known: frozenset[str]) -> Egress:
    if not isinstance(table, Mapping):
        raise EgressConfigError(f"{where}: must be a table")
    unknown = set(table) - known
    if unknown:
        raise EgressConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    source, proxy = table.get("source_address"), table.get("proxy")
    if (source is None) == (proxy is None):
        raise EgressConfigError(f"{where}: give exactly one of source_address (a local IP) or proxy (a URL)")
    if source is not None:
        source = _ip(source, f"{where} source_address")
    if proxy is not None:
        proxy = _proxy(proxy, f"{where} proxy")
    registered = table.get("registered_ip")
    if registered is not None:
        registered = _ip(registered, f"{where} registered_ip")
    return Egress(name, source, proxy, registered)


def _ip(value: object, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise EgressConfigError(
            f"{where}: {value!r} is not an IP address (e.g. 203.0.113.10 or 2001:db8::10)"
        ) from None


def _proxy(value: object, where: str) -> str:
    text = str(value)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in PROXY_SCHEMES or not parts.hostname or port is None:
        raise EgressConfigError(
            f"{where}: {redact_proxy(text)!r} must be a proxy URL with a port, "
            f"{' / '.join(PROXY_SCHEMES)}://host:port (e.g. socks5h://10.0.2.5:1080)"
        )
    return text


def _names(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise EgressConfigError(f"{where}: must be a list of names")
    return list(value)


def proxy_endpoint(proxy: str) -> tuple[str, int]:
    """The proxy's host and port (the URL was checked when the map was read)."""
    parts = urlsplit(proxy)
    return str(parts.hostname), int(parts.port or 0)


def redact_proxy(proxy: str) -> str:
    """The proxy URL without its credentials, for messages and logs."""
    parts = urlsplit(proxy)
    if parts.password is None and parts.username is None:
        return proxy
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
