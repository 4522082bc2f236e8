"""Place an order and follow it to a final status through the order-update stream.

    .venv/bin/python clients/python/examples/place_and_track.py --target 127.0.0.1:50051 [--token-file F]
        [--account ZS0001] [--symbol NSE:INFY] [--quantity 1]

Against `make run` (paper trading) it buys one INFY at market and prints each update until the
order is COMPLETE, REJECTED or CANCELLED. Run it twice with the same --client-order-id: the second
run places nothing and reports the first order (idempotency).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from kite_gateway_api.v1 import common_pb2, order_pb2
from kite_gateway_client import GatewayClient, to_decimal

FINAL = {order_pb2.ORDER_STATUS_COMPLETE, order_pb2.ORDER_STATUS_REJECTED, order_pb2.ORDER_STATUS_CANCELLED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--token-file", type=Path, help="file holding the bearer token")
    parser.add_argument("--account", default="ZS0001")
    parser.add_argument("--symbol", default="NSE:INFY")
    parser.add_argument("--quantity", type=int, default=1)
    parser.add_argument("--client-order-id", default=f"example-{uuid.uuid4().hex[:12]}")
    args = parser.parse_args()
    token = args.token_file.read_text().strip() if args.token_file else None

    params = order_pb2.OrderParams(
        instrument=common_pb2.InstrumentRef(symbol=args.symbol),
        transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        product=common_pb2.PRODUCT_CNC,
        quantity=args.quantity,
    )
    with GatewayClient(args.target, token) as client:
        placed = client.place_order(args.account, params, args.client_order_id)
        print(f"placed {args.symbol} x{args.quantity}: order {placed.order_id} (client_order_id "
              f"{placed.client_order_id}{', replayed' if placed.replayed else ''})", flush=True)  # fmt: skip
        for event in client.order_updates(args.account, after_sequence=0):
            if event.gap is not None:
                print(f"gap: {event.gap}", flush=True)
                continue
            assert event.update is not None
            order = event.update.order
            if order.order_id != placed.order_id:
                continue
            status = order_pb2.OrderStatus.Name(order.status).removeprefix("ORDER_STATUS_")
            filled = f"{order.filled_quantity}/{order.quantity}"
            price = to_decimal(order.average_price)
            print(f"#{event.update.sequence} {status} filled {filled} avg {price}", flush=True)
            if order.status in FINAL:
                return 0 if order.status == order_pb2.ORDER_STATUS_COMPLETE else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
