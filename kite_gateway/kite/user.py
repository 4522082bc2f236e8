"""Kite's user endpoints, typed: the session exchange of a login, the profile, the margins, and
logging a token out. Each call goes through the account's KiteCaller (rate limits, metrics, error
mapping); all of them are in Kite's "everything else" rate class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import is_kite_failure
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.kite.portfolio import SegmentMargins
from kite_wire import IST

MarginSegment = Literal["equity", "commodity"]


@dataclass(frozen=True)
class KiteLogin:
    """What Kite's session exchange gives: the user and their new access token."""

    user_id: str
    user_name: str
    access_token: str
    login_time: datetime | None  # aware (IST), when Kite sent one


@dataclass(frozen=True)
class Profile:
    user_id: str
    user_name: str
    user_shortname: str
    user_type: str
    email: str
    broker: str
    exchanges: tuple[str, ...]
    products: tuple[str, ...]
    order_types: tuple[str, ...]
    avatar_url: str
    demat_consent: str


@dataclass(frozen=True)
class UserMargins:
    """The segments asked for (both when none was named)."""

    equity: SegmentMargins | None = None
    commodity: SegmentMargins | None = None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(item) for item in data.get(key) or ())


def login_of(data: Mapping[str, Any]) -> KiteLogin:
    stamp = data.get("login_time")
    return KiteLogin(
        user_id=str(data["user_id"]),
        user_name=_text(data, "user_name"),
        access_token=str(data["access_token"]),
        login_time=stamp.replace(tzinfo=IST) if isinstance(stamp, datetime) else None,
    )


def profile_of(data: Mapping[str, Any]) -> Profile:
    return Profile(
        user_id=_text(data, "user_id"),
        user_name=_text(data, "user_name"),
        user_shortname=_text(data, "user_shortname"),
        user_type=_text(data, "user_type"),
        email=_text(data, "email"),
        broker=_text(data, "broker"),
        exchanges=_texts(data, "exchanges"),
        products=_texts(data, "products"),
        order_types=_texts(data, "order_types"),
        avatar_url=_text(data, "avatar_url"),
        demat_consent=_text(data.get("meta") or {}, "demat_consent"),
    )


class KiteUser:
    """The user endpoints of one caller: an account's, or a login's not yet made (no token)."""

    def __init__(self, kite: KiteCaller) -> None:
        self.kite = kite

    async def generate_session(self, request_token: str, api_secret: str) -> KiteLogin:
        """Kite's session exchange, signed with the app's secret. A refused exchange says what to do:
        request tokens are single-use and short-lived."""
        try:
            data = await self.kite.write(EndpointClass.OTHER, "generate_session", request_token, api_secret=api_secret)
        except Exception as exc:
            if not is_kite_failure(exc):
                raise
            if isinstance(exc, kite_exceptions.TokenException):
                raise GatewayError(
                    Status.UNAUTHENTICATED,
                    Reason.ACCOUNT_NEEDS_LOGIN,
                    f"Kite refused the login ({exc}): request tokens are single-use and expire within minutes, and "
                    "the api_secret must be the app's; log in again for a fresh request_token",
                    {"kite_error_type": "TokenException", "kite_message": str(exc)},
                ) from None
            raise self.kite.error(exc) from None
        return login_of(data)

    async def profile(self) -> Profile:
        return profile_of(await self.kite.read(EndpointClass.OTHER, "profile"))

    async def margins(self, segment: MarginSegment | None = None) -> UserMargins:
        if segment is None:
            both = await self.kite.read(EndpointClass.OTHER, "margins")
            return UserMargins(equity=SegmentMargins.of(both["equity"]), commodity=SegmentMargins.of(both["commodity"]))
        data = await self.kite.read(EndpointClass.OTHER, "margins", segment)
        return UserMargins(**{segment: SegmentMargins.of(data)})

    async def invalidate_access_token(self) -> None:
        """Log the caller's token out at Kite (GatewayError when Kite fails or refuses)."""
        await self.kite.change(EndpointClass.OTHER, "invalidate_access_token")
