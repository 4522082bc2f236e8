"""PortfolioService: positions with P&L, holdings, conversion, and a view across accounts."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import grpc
from kite_gateway_api.v1 import errors_pb2, order_pb2, portfolio_pb2, portfolio_pb2_grpc

from kite_gateway.errors import GatewayError, invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.context import audited
from kite_gateway.kite.limits import EndpointClass

if TYPE_CHECKING:
    from kite_gateway.app import Runtime

ZERO = Decimal(0)


def position_pb(account_id: str, row: dict[str, Any]) -> portfolio_pb2.Position:
    decimals: dict[str, Any] = {
        name: mapping.decimal_pb(row.get(name))
        for name in (
            "multiplier",
            "average_price",
            "close_price",
            "last_price",
            "value",
            "pnl",
            "m2m",
            "unrealised",
            "realised",
            "buy_price",
            "buy_value",
            "sell_price",
            "sell_value",
            "day_buy_price",
            "day_buy_value",
            "day_sell_price",
            "day_sell_value",
        )
    }
    counts: dict[str, Any] = {
        name: int(row.get(name) or 0)
        for name in (
            "quantity",
            "overnight_quantity",
            "buy_quantity",
            "sell_quantity",
            "day_buy_quantity",
            "day_sell_quantity",
        )
    }
    return portfolio_pb2.Position(
        account_id=account_id,
        symbol=mapping.symbol(row),
        instrument_token=int(row.get("instrument_token") or 0),
        product=mapping.product_pb(row.get("product")),
        **decimals,
        **counts,
    )


HOLDING_COUNTS = (
    "quantity",
    "t1_quantity",
    "used_quantity",
    "authorised_quantity",
    "collateral_quantity",
    "short_quantity",
    "opening_quantity",
)
HOLDING_AMOUNTS = ("average_price", "last_price", "close_price", "pnl", "day_change", "day_change_percentage")


def holding_pb(account_id: str, row: dict[str, Any]) -> portfolio_pb2.Holding:
    mtf = row.get("mtf") or {}
    fields: dict[str, Any] = {name: int(row.get(name) or 0) for name in HOLDING_COUNTS}
    fields.update({name: mapping.decimal_pb(row.get(name)) for name in HOLDING_AMOUNTS})
    return portfolio_pb2.Holding(
        account_id=account_id,
        symbol=mapping.symbol(row),
        instrument_token=int(row.get("instrument_token") or 0),
        isin=row.get("isin") or "",
        product=mapping.product_pb(row.get("product")),
        mtf_quantity=int(mtf.get("quantity") or 0),
        mtf_initial_margin=mapping.decimal_pb(mtf.get("initial_margin")),
        **fields,
    )


def holdings_summary(rows: list[dict[str, Any]]) -> portfolio_pb2.HoldingsSummary:
    invested = current = today = previous = ZERO
    for row in rows:
        quantity = int(row.get("quantity") or 0) + int(row.get("t1_quantity") or 0)
        invested += mapping.exact(row.get("average_price")) * quantity
        current += mapping.exact(row.get("last_price")) * quantity
        previous += mapping.exact(row.get("close_price")) * quantity
    today = current - previous
    total = current - invested
    return portfolio_pb2.HoldingsSummary(
        invested_amount=mapping.decimal_pb(invested),
        current_value=mapping.decimal_pb(current),
        total_pnl=mapping.decimal_pb(total),
        total_pnl_percent=mapping.decimal_pb((total * 100 / invested).quantize(Decimal("0.01")) if invested else ZERO),
        today_pnl=mapping.decimal_pb(today),
        today_pnl_percent=mapping.decimal_pb((today * 100 / previous).quantize(Decimal("0.01")) if previous else ZERO),
    )


class PortfolioServicer(portfolio_pb2_grpc.PortfolioServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts = runtime.accounts

    async def _read(self, account_id: str, method: str) -> Any:
        return await self.accounts.get(account_id).active().read(EndpointClass.OTHER, method)

    async def GetPositions(
        self, request: portfolio_pb2.GetPositionsRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetPositionsResponse:
        data = await self._read(request.account_id, "positions")
        net = [position_pb(request.account_id, row) for row in data.get("net", [])]
        return portfolio_pb2.GetPositionsResponse(
            net=net,
            day=[position_pb(request.account_id, row) for row in data.get("day", [])],
            total_pnl=mapping.decimal_pb(sum((mapping.exact(r.get("pnl")) for r in data.get("net", [])), ZERO)),
            total_m2m=mapping.decimal_pb(sum((mapping.exact(r.get("m2m")) for r in data.get("net", [])), ZERO)),
        )

    async def GetHoldings(
        self, request: portfolio_pb2.GetHoldingsRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetHoldingsResponse:
        rows = await self._read(request.account_id, "holdings")
        return portfolio_pb2.GetHoldingsResponse(
            holdings=[holding_pb(request.account_id, row) for row in rows], summary=holdings_summary(rows)
        )

    async def ConvertPosition(
        self, request: portfolio_pb2.ConvertPositionRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.ConvertPositionResponse:
        async def convert_position() -> portfolio_pb2.ConvertPositionResponse:
            session = self.accounts.get(request.account_id)
            kite = session.active()
            await self.runtime.instruments.ensure(session)
            listing = self.runtime.instruments.resolve(request.instrument, "instrument")
            if request.quantity <= 0:
                raise invalid("quantity", "must be positive")
            position_type = {portfolio_pb2.POSITION_TYPE_DAY: "day", portfolio_pb2.POSITION_TYPE_OVERNIGHT: "overnight"}
            if request.position_type not in position_type:
                raise invalid("position_type", "required: POSITION_TYPE_DAY or POSITION_TYPE_OVERNIGHT")
            await kite.change(
                EndpointClass.OTHER,
                "convert_position",
                exchange=listing.exchange,
                tradingsymbol=listing.tradingsymbol,
                transaction_type=mapping.transaction_text(request.transaction_type, "transaction_type"),
                position_type=position_type[request.position_type],
                quantity=request.quantity,
                old_product=mapping.product_text(request.old_product, "old_product"),
                new_product=mapping.product_text(request.new_product, "new_product"),
            )
            return portfolio_pb2.ConvertPositionResponse()

        return await audited(
            self.runtime.audit,
            context,
            order_pb2.AUDIT_ACTION_CONVERT_POSITION,
            request.account_id,
            "",
            request,
            convert_position,
            lambda _: "",
        )

    async def GetConsolidatedPortfolio(
        self, request: portfolio_pb2.GetConsolidatedPortfolioRequest, context: grpc.aio.ServicerContext
    ) -> portfolio_pb2.GetConsolidatedPortfolioResponse:
        ids = sorted(set(request.account_ids)) or [s.account_id for s in self.accounts.all()]
        for account_id in ids:
            self.accounts.get(account_id)  # unknown ids are NOT_FOUND for the whole call

        async def one(account_id: str) -> tuple[str, Any]:
            try:
                positions, holdings, margins = await asyncio.gather(
                    self._read(account_id, "positions"),
                    self._read(account_id, "holdings"),
                    self._read(account_id, "margins"),
                )
                return account_id, (positions, holdings, margins)
            except GatewayError as exc:
                return account_id, exc

        response = portfolio_pb2.GetConsolidatedPortfolioResponse()
        response.as_of.FromDatetime(datetime.now(UTC))
        by_symbol: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "accounts": {},
                "token": 0,
                "price": ZERO,
                "value": ZERO,
                "pnl": ZERO,
                "positions": 0,
                "holdings": 0,
            }
        )
        total = ZERO
        for account_id, result in await asyncio.gather(*(one(a) for a in ids)):
            entry = response.accounts.add(account_id=account_id)
            if isinstance(result, GatewayError):
                entry.failure.CopyFrom(
                    errors_pb2.Failure(
                        code=int(result.code),
                        reason=cast(Any, result.reason),
                        message=result.message,
                        metadata=result.metadata,
                    )
                )
                continue
            positions, holdings, margins = result
            net = positions.get("net", [])
            totals = entry.totals
            totals.positions_pnl.CopyFrom(mapping.decimal_pb(sum((mapping.exact(r.get("pnl")) for r in net), ZERO)))
            totals.positions_m2m.CopyFrom(mapping.decimal_pb(sum((mapping.exact(r.get("m2m")) for r in net), ZERO)))
            totals.open_positions = sum(1 for r in net if int(r.get("quantity") or 0))
            totals.holdings.CopyFrom(holdings_summary(holdings))
            totals.equity_margin_available.CopyFrom(mapping.decimal_pb((margins.get("equity") or {}).get("net")))
            totals.commodity_margin_available.CopyFrom(mapping.decimal_pb((margins.get("commodity") or {}).get("net")))
            for row in net:
                item = by_symbol[mapping.symbol(row)]
                quantity, pnl = int(row.get("quantity") or 0), mapping.exact(row.get("pnl"))
                price, multiplier = mapping.exact(row.get("last_price")), mapping.exact(row.get("multiplier") or 1)
                item.update(token=int(row.get("instrument_token") or 0), price=price)
                item["positions"] += quantity
                item["value"] += quantity * price * multiplier
                item["pnl"] += pnl
                share = item["accounts"].setdefault(account_id, [0, 0, ZERO])
                share[0] += quantity
                share[2] += pnl
                total += pnl
            for row in holdings:
                item = by_symbol[mapping.symbol(row)]
                quantity = int(row.get("quantity") or 0) + int(row.get("t1_quantity") or 0)
                pnl, price = mapping.exact(row.get("pnl")), mapping.exact(row.get("last_price"))
                item.update(token=int(row.get("instrument_token") or 0), price=price)
                item["holdings"] += quantity
                item["value"] += quantity * price
                item["pnl"] += pnl
                share = item["accounts"].setdefault(account_id, [0, 0, ZERO])
                share[1] += quantity
                share[2] += pnl
                total += pnl
        for symbol_name in sorted(by_symbol):
            item = by_symbol[symbol_name]
            response.instruments.add(
                symbol=symbol_name,
                instrument_token=item["token"],
                position_quantity=item["positions"],
                holding_quantity=item["holdings"],
                last_price=mapping.decimal_pb(item["price"]),
                value=mapping.decimal_pb(item["value"]),
                pnl=mapping.decimal_pb(item["pnl"]),
                accounts=[
                    portfolio_pb2.AccountExposure(
                        account_id=a, position_quantity=p, holding_quantity=h, pnl=mapping.decimal_pb(v)
                    )
                    for a, (p, h, v) in sorted(item["accounts"].items())
                ],
            )
        response.total_pnl.CopyFrom(mapping.decimal_pb(total))
        return response
