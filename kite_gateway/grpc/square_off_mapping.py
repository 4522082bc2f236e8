"""SquareOff and CancelAllOrders messages to and from the core's scopes and results
(kite_gateway/core/orders/exit_scope.py, square_off.py, cancel_all.py)."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import CancelAllResult, ExitScope, SquareOffResult
from kite_gateway.errors import invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.order_mapping import cancellation_pb
from kite_gateway.grpc.status import failure_pb

ScopeRequest = order_pb2.SquareOffRequest | order_pb2.CancelAllOrdersRequest


def scope(request: ScopeRequest, master: InstrumentMaster) -> ExitScope:
    """The request's scope (INVALID_ARGUMENT naming a field that cannot be read)."""
    if not request.reason.strip():
        raise invalid("reason", "say why (it is kept in the audit trail)")
    exchange = tradingsymbol = ""
    ref = request.instrument
    kind = ref.WhichOneof("ref")
    if kind == "symbol":
        exchange, _, tradingsymbol = ref.symbol.partition(":")
        if not exchange or not tradingsymbol:
            raise invalid("instrument.symbol", "EXCHANGE:TRADINGSYMBOL, e.g. NSE:INFY")
    elif kind == "instrument_token":
        listing = master.resolve(mapping.instrument_ref(ref), "instrument")
        exchange, tradingsymbol = listing.exchange, listing.tradingsymbol
    product = mapping.product_text(request.product, "product") if request.product else ""
    for i, account_id in enumerate(request.account_ids):
        if not account_id:
            raise invalid(f"account_ids[{i}]", "must not be empty")
    return ExitScope(
        tuple(request.account_ids), tuple(request.groups), request.strategy_id, exchange, tradingsymbol, product
    )


def cancel_all_pb(result: CancelAllResult) -> order_pb2.CancelAllOrdersResponse:
    return order_pb2.CancelAllOrdersResponse(
        request_id=result.request_id,
        cancellations=[cancellation_pb(c) for c in result.cancellations],
        failed_accounts=[order_pb2.AccountFailure(account_id=a, message=why) for a, why in result.failed_accounts],
        replayed=result.replayed,
    )


def square_off_pb(result: SquareOffResult) -> order_pb2.SquareOffResponse:
    exits = []
    for e in result.exits:
        message = order_pb2.SquareOffExit(
            account_id=e.account_id,
            symbol=f"{e.exchange}:{e.tradingsymbol}",
            product=mapping.product_pb(e.product),
            transaction_type=mapping.transaction_pb(e.transaction_type),
            quantity=e.quantity,
            client_order_id=e.client_order_id,
            order_id=e.order_id,
        )
        if e.error is not None:
            message.failure.CopyFrom(failure_pb(e.error))
        exits.append(message)
    return order_pb2.SquareOffResponse(
        request_id=result.request_id,
        exits=exits,
        cancellations=[cancellation_pb(c) for c in result.cancellations],
        failed_accounts=[order_pb2.AccountFailure(account_id=a, message=why) for a, why in result.failed_accounts],
        replayed=result.replayed,
    )
