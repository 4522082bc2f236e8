"""Exact prices: kite_gateway.v1.Decimal (units + nanos) to and from decimal.Decimal."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway_api.v1 import common_pb2

NANO = Decimal(1_000_000_000)


def to_decimal(value: common_pb2.Decimal) -> Decimal:
    return Decimal(value.units) + Decimal(value.nanos) / NANO


def from_decimal(value: Decimal | int | str) -> common_pb2.Decimal:
    exact = Decimal(value)
    units = int(exact)  # truncates toward zero, so units and nanos share a sign
    nanos = int((exact - units) * NANO)
    if (exact - units) * NANO != nanos:
        raise ValueError(f"{value} has more than 9 decimal places")
    return common_pb2.Decimal(units=units, nanos=nanos)
