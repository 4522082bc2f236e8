"""Kite's portfolio endpoints for one account, typed: positions, holdings, funds and margins, and
position conversion (all rate class OTHER). Failures come back as GatewayErrors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any, Literal

from kite_gateway.kite import rows
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass


def _amounts(cls: type[Any], row: rows.Row) -> dict[str, Any]:
    """The fields of dataclass `cls` read from `row`: ints as counts, Decimals as exact amounts."""
    return {
        f.name: rows.count(row.get(f.name)) if f.type == "int" else rows.decimal(row.get(f.name))
        for f in fields(cls)
        if f.type in ("int", "Decimal")
    }


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One net or day position as Kite reports it."""

    exchange: str
    tradingsymbol: str
    symbol: str
    instrument_token: int
    product: str
    quantity: int
    overnight_quantity: int
    buy_quantity: int
    sell_quantity: int
    day_buy_quantity: int
    day_sell_quantity: int
    multiplier: Decimal
    average_price: Decimal
    close_price: Decimal
    last_price: Decimal
    value: Decimal
    pnl: Decimal
    m2m: Decimal
    unrealised: Decimal
    realised: Decimal
    buy_price: Decimal
    buy_value: Decimal
    sell_price: Decimal
    sell_value: Decimal
    day_buy_price: Decimal
    day_buy_value: Decimal
    day_sell_price: Decimal
    day_sell_value: Decimal

    @classmethod
    def of(cls, row: rows.Row) -> PositionRow:
        return cls(
            exchange=rows.text(row.get("exchange")),
            tradingsymbol=rows.text(row.get("tradingsymbol")),
            symbol=rows.symbol(row),
            product=rows.text(row.get("product")),
            **_amounts(cls, row),
        )


@dataclass(frozen=True, slots=True)
class Positions:
    net: list[PositionRow]
    day: list[PositionRow]


@dataclass(frozen=True, slots=True)
class HoldingRow:
    """One holding as Kite reports it (MTF quantities flattened)."""

    symbol: str
    isin: str
    product: str
    instrument_token: int
    quantity: int
    t1_quantity: int
    used_quantity: int
    authorised_quantity: int
    collateral_quantity: int
    short_quantity: int
    opening_quantity: int
    average_price: Decimal
    last_price: Decimal
    close_price: Decimal
    pnl: Decimal
    day_change: Decimal
    day_change_percentage: Decimal
    mtf_quantity: int
    mtf_initial_margin: Decimal

    @classmethod
    def of(cls, row: rows.Row) -> HoldingRow:
        mtf = row.get("mtf") or {}
        values = _amounts(cls, row)
        values.update(
            mtf_quantity=rows.count(mtf.get("quantity")), mtf_initial_margin=rows.decimal(mtf.get("initial_margin"))
        )
        return cls(
            symbol=rows.symbol(row), isin=rows.text(row.get("isin")), product=rows.text(row.get("product")), **values
        )


@dataclass(frozen=True, slots=True)
class AvailableMargins:
    adhoc_margin: Decimal
    cash: Decimal
    opening_balance: Decimal
    live_balance: Decimal
    collateral: Decimal
    intraday_payin: Decimal


@dataclass(frozen=True, slots=True)
class UtilisedMargins:
    debits: Decimal
    exposure: Decimal
    m2m_realised: Decimal
    m2m_unrealised: Decimal
    option_premium: Decimal
    payout: Decimal
    span: Decimal
    holding_sales: Decimal
    turnover: Decimal
    liquid_collateral: Decimal
    stock_collateral: Decimal
    delivery: Decimal


@dataclass(frozen=True, slots=True)
class SegmentMargins:
    """Funds and margins of one segment (`/user/margins`)."""

    enabled: bool
    net: Decimal
    available: AvailableMargins
    utilised: UtilisedMargins

    @classmethod
    def of(cls, row: rows.Row | None) -> SegmentMargins:
        row = row or {}
        return cls(
            enabled=bool(row.get("enabled")),
            net=rows.decimal(row.get("net")),
            available=AvailableMargins(**_amounts(AvailableMargins, row.get("available") or {})),
            utilised=UtilisedMargins(**_amounts(UtilisedMargins, row.get("utilised") or {})),
        )


@dataclass(frozen=True, slots=True)
class Margins:
    equity: SegmentMargins
    commodity: SegmentMargins


Segment = Literal["equity", "commodity"]


@dataclass(frozen=True, slots=True)
class PositionConversion:
    """A change of product of (part of) an open position, as Kite takes it."""

    exchange: str
    tradingsymbol: str
    transaction_type: str
    position_type: Literal["day", "overnight"]
    quantity: int
    old_product: str
    new_product: str


class KitePortfolio:
    """One account's portfolio calls (`KitePortfolio(session.active())`)."""

    def __init__(self, kite: KiteCaller) -> None:
        self.kite = kite

    @property
    def account_id(self) -> str:
        return self.kite.account_id

    async def positions(self) -> Positions:
        data = await self.kite.read(EndpointClass.OTHER, "positions")
        return Positions(
            [PositionRow.of(r) for r in data.get("net", [])], [PositionRow.of(r) for r in data.get("day", [])]
        )

    async def holdings(self) -> list[HoldingRow]:
        return [HoldingRow.of(row) for row in await self.kite.read(EndpointClass.OTHER, "holdings")]

    async def margins(self) -> Margins:
        """Both segments (missing ones read as empty)."""
        data = await self.kite.read(EndpointClass.OTHER, "margins")
        return Margins(SegmentMargins.of(data.get("equity")), SegmentMargins.of(data.get("commodity")))

    async def segment_margins(self, segment: Segment) -> SegmentMargins:
        return SegmentMargins.of(await self.kite.read(EndpointClass.OTHER, "margins", segment))

    async def convert_position(self, conversion: PositionConversion) -> None:
        await self.kite.change(EndpointClass.OTHER, "convert_position", **asdict(conversion))
