"""PortfolioService messages from the core's portfolio types (and the conversion request to one)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Literal

from kite_gateway_api.v1 import portfolio_pb2

from kite_gateway.core.portfolio import AccountResult, Consolidated, Conversion, HoldingsSummary, PositionsView
from kite_gateway.errors import invalid
from kite_gateway.grpc.mapping import decimal_pb, product_pb, product_text, transaction_text
from kite_gateway.grpc.status import failure_pb
from kite_gateway.kite import HoldingRow, PositionRow

POSITION_TYPES: dict[int, Literal["day", "overnight"]] = {
    portfolio_pb2.POSITION_TYPE_DAY: "day",
    portfolio_pb2.POSITION_TYPE_OVERNIGHT: "overnight",
}


def _numbers(row: Any, message: type[Any]) -> dict[str, Any]:
    """The row's numeric fields the message has too: counts as they are, amounts as Decimals."""
    names = set(message.DESCRIPTOR.fields_by_name)
    return {
        f.name: getattr(row, f.name) if f.type == "int" else decimal_pb(getattr(row, f.name))
        for f in fields(row)
        if f.name in names and f.type in ("int", "Decimal")
    }


def position_pb(account_id: str, row: PositionRow) -> portfolio_pb2.Position:
    return portfolio_pb2.Position(
        account_id=account_id,
        symbol=row.symbol,
        product=product_pb(row.product),
        **_numbers(row, portfolio_pb2.Position),
    )


def holding_pb(account_id: str, row: HoldingRow) -> portfolio_pb2.Holding:
    return portfolio_pb2.Holding(
        account_id=account_id,
        symbol=row.symbol,
        isin=row.isin,
        product=product_pb(row.product),
        **_numbers(row, portfolio_pb2.Holding),
    )


def summary_pb(summary: HoldingsSummary) -> portfolio_pb2.HoldingsSummary:
    return portfolio_pb2.HoldingsSummary(**{f.name: decimal_pb(getattr(summary, f.name)) for f in fields(summary)})


def positions_pb(account_id: str, view: PositionsView) -> portfolio_pb2.GetPositionsResponse:
    return portfolio_pb2.GetPositionsResponse(
        net=[position_pb(account_id, row) for row in view.net],
        day=[position_pb(account_id, row) for row in view.day],
        total_pnl=decimal_pb(view.total_pnl),
        total_m2m=decimal_pb(view.total_m2m),
    )


def conversion_of(request: portfolio_pb2.ConvertPositionRequest) -> Conversion:
    """The request's conversion (INVALID_ARGUMENT for a missing or out-of-range field)."""
    if request.quantity <= 0:
        raise invalid("quantity", "must be positive")
    if request.position_type not in POSITION_TYPES:
        raise invalid("position_type", "required: POSITION_TYPE_DAY or POSITION_TYPE_OVERNIGHT")
    return Conversion(
        transaction_type=transaction_text(request.transaction_type, "transaction_type"),
        position_type=POSITION_TYPES[request.position_type],
        quantity=request.quantity,
        old_product=product_text(request.old_product, "old_product"),
        new_product=product_text(request.new_product, "new_product"),
    )


def _account_pb(result: AccountResult) -> portfolio_pb2.AccountPortfolio:
    entry = portfolio_pb2.AccountPortfolio(account_id=result.account_id)
    if result.failure is not None:
        entry.failure.CopyFrom(failure_pb(result.failure))
    elif result.totals is not None:
        totals = result.totals
        entry.totals.CopyFrom(
            portfolio_pb2.AccountPortfolioTotals(
                positions_pnl=decimal_pb(totals.positions_pnl),
                positions_m2m=decimal_pb(totals.positions_m2m),
                open_positions=totals.open_positions,
                holdings=summary_pb(totals.holdings),
                equity_margin_available=decimal_pb(totals.equity_margin_available),
                commodity_margin_available=decimal_pb(totals.commodity_margin_available),
            )
        )
    return entry


def consolidated_pb(view: Consolidated) -> portfolio_pb2.GetConsolidatedPortfolioResponse:
    response = portfolio_pb2.GetConsolidatedPortfolioResponse(
        accounts=[_account_pb(result) for result in view.accounts], total_pnl=decimal_pb(view.total_pnl)
    )
    response.as_of.FromDatetime(view.as_of)
    for item in view.instruments:
        response.instruments.add(
            symbol=item.symbol,
            instrument_token=item.instrument_token,
            position_quantity=item.position_quantity,
            holding_quantity=item.holding_quantity,
            last_price=decimal_pb(item.last_price),
            value=decimal_pb(item.value),
            pnl=decimal_pb(item.pnl),
            accounts=[
                portfolio_pb2.AccountExposure(
                    account_id=a.account_id,
                    position_quantity=a.position_quantity,
                    holding_quantity=a.holding_quantity,
                    pnl=decimal_pb(a.pnl),
                )
                for a in item.accounts
            ],
        )
    return response
