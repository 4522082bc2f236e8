"""A request's Decimals in their plain form, for what identifies the request: every way of writing
one value is the same request, nested and repeated fields included, and the original is untouched."""

from __future__ import annotations

from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.orders import fingerprint
from kite_gateway.grpc.decimal_text import canonical


def gtt(last: str, triggers: list[str], price: str) -> order_pb2.GttParams:
    return order_pb2.GttParams(
        last_price=Decimal_pb(value=last),
        trigger_values=[Decimal_pb(value=t) for t in triggers],
        legs=[order_pb2.GttLeg(quantity=1, price=Decimal_pb(value=price))],
    )


def test_one_value_written_several_ways_is_one_request_and_other_values_are_not() -> None:
    plain = gtt("1500.5", ["1400", "1600.05"], "1401")
    for written in (gtt("1500.50", ["1.4e3", "01600.050"], "+1401.0"), gtt("15005e-1", ["1400.", "1600.05"], "1401")):
        assert fingerprint(canonical(written)) == fingerprint(canonical(plain)) == fingerprint(plain)
    assert fingerprint(canonical(gtt("1500.55", ["1400", "1600.05"], "1401"))) != fingerprint(plain)


def test_the_request_itself_is_left_as_the_caller_wrote_it() -> None:
    written = gtt("1500.50", ["-0", "7E+2"], "")
    copy = canonical(written)
    assert [d.value for d in copy.trigger_values] == ["0", "700"] and copy.legs[0].price.value == ""
    assert written.last_price.value == "1500.50" and written.trigger_values[1].value == "7E+2"
