"""Every bad input gets a clear status (issue 10, section 3): each finding of the fuzz run that
answered INTERNAL or UNKNOWN, ids that could steer the Kite endpoint called, unbounded sizes, and
an answer that told a caller about another account's order."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date
from kite_gateway_api.v1 import account_pb2, common_pb2, market_data_pb2, order_pb2, portfolio_pb2

from kite_gateway.grpc.mapping import decimal_pb
from kite_simulator import Fault
from tests.e2e.conftest import Stack, market_buy, status_of

ACCOUNT = "ZS0001"
PATH_ID = "1/../../portfolio/holdings"
MEGABYTE = "9" * 1_000_000  # 1 MB: under the 1 MiB request limit, so it reaches the field checks
FAR_FUTURE = Timestamp(seconds=2**62)


def kite_requests(stack: Stack, path: str = "*") -> Fault:
    """A tripwire counting the requests the simulator gets for `path` (a delay of nothing, a million times)."""
    return stack.sim.faults.add(Fault("*", path, "delay", times=10**6, seconds=0.0))


def sent(tripwire: Fault) -> int:
    return 10**6 - tripwire.times


async def failure(call: Any) -> tuple[grpc.StatusCode, str, dict[str, str], list[tuple[str, str]], str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    code, reason, metadata, violations = status_of(caught.value)
    return code, reason, metadata, violations, caught.value.details() or ""


async def first_event(stream: Any) -> Any:
    async for event in stream:
        return event
    return None


# Ids never steer which Kite endpoint is called -------------------------------------------------


@pytest.mark.parametrize("method", ["GetOrderHistory", "ListTrades", "CancelOrder", "ModifyOrder"])
async def test_an_order_id_with_a_path_is_invalid_argument_and_never_reaches_kite(stack: Stack, method: str) -> None:
    target = order_pb2.OrderTarget(order_id=PATH_ID)
    requests: dict[str, Any] = {
        "GetOrderHistory": order_pb2.GetOrderHistoryRequest(account_id=ACCOUNT, order=target),
        "ListTrades": order_pb2.ListTradesRequest(account_id=ACCOUNT, order=target),
        "CancelOrder": order_pb2.CancelOrderRequest(account_id=ACCOUNT, order=target),
        "ModifyOrder": order_pb2.ModifyOrderRequest(account_id=ACCOUNT, order=target, quantity=2),
    }
    tripwire = kite_requests(stack)
    code, reason, _, violations, details = await failure(getattr(stack.orders, method)(requests[method]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and reason == "INVALID_FIELD"
    assert violations[0][0] == "order.order_id" and "digits" in details
    assert sent(tripwire) == 0


async def test_kite_is_never_called_with_a_path_parameter_in_a_form_kite_does_not_issue(stack: Stack) -> None:
    from kite_gateway.errors import GatewayError, Status
    from kite_gateway.kite.limits import EndpointClass

    kite = stack.runtime.accounts.get(ACCOUNT).active()
    tripwire = kite_requests(stack)
    for method, args in [
        ("order_history", (PATH_ID,)),
        ("order_trades", ("12?x=1",)),
        ("cancel_order", ("../regular", "1")),
        ("modify_order", ("regular", "1/../../x")),
        ("get_gtt", ("5/../../../user/profile",)),
        ("delete_gtt", (-1,)),
        ("margins", ("equity/../../portfolio",)),
        ("historical_data", ("408065/../..", "2026-01-01", "2026-01-02", "day")),
        ("historical_data", (408065, "2026-01-01", "2026-01-02", "day/../../x")),
    ]:
        with pytest.raises(GatewayError) as caught:
            await kite.read(EndpointClass.OTHER, method, *args)
        assert caught.value.code == Status.INVALID_ARGUMENT, method
        assert "nothing was sent to Kite" in caught.value.message
    assert sent(tripwire) == 0


# The fuzz run's INTERNAL answers, one cause each --------------------------------------------------


@pytest.mark.parametrize("seconds", [2**62, -(2**62), 253_402_300_800])
async def test_an_out_of_range_timestamp_is_invalid_argument_in_historical_audit_and_search(
    stack: Stack, seconds: int
) -> None:
    bad, good = Timestamp(seconds=seconds), Timestamp(seconds=1_795_000_000)
    calls = [
        stack.market.GetHistoricalData(
            market_data_pb2.GetHistoricalDataRequest(
                account_id=ACCOUNT,
                instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
                interval=market_data_pb2.CANDLE_INTERVAL_DAY,
                start_time=good,
                end_time=bad,
            )
        ),
        stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, start_time=bad)),
    ]
    for call in calls:
        code, _, _, violations, details = await failure(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert violations[0][0] in ("end_time", "start_time") and "Timestamp" in details


async def test_an_expiry_filter_that_is_not_a_calendar_date_is_invalid_argument_naming_it(stack: Stack) -> None:
    code, _, _, violations, details = await failure(
        stack.market.SearchInstruments(
            market_data_pb2.SearchInstrumentsRequest(account_id=ACCOUNT, expiry_to=Date(year=2026, month=2, day=30))
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "expiry_to"
    assert "2026-02-30 is not a calendar date" in details


async def test_a_historical_range_needing_thousands_of_kite_calls_is_refused_before_any(stack: Stack) -> None:
    tripwire = kite_requests(stack, "/instruments/historical/*")
    request = market_data_pb2.GetHistoricalDataRequest(
        account_id=ACCOUNT, instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        interval=market_data_pb2.CANDLE_INTERVAL_MINUTE, start_time=Timestamp(seconds=0),
        end_time=Timestamp(seconds=1_795_000_000),
    )  # fmt: skip
    code, _, _, violations, details = await failure(stack.market.GetHistoricalData(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "end_time" and "days" in details
    assert sent(tripwire) == 0


@pytest.mark.parametrize("number", [2**63, 2**64, -1])
async def test_an_audit_page_token_beyond_int64_is_invalid_argument(stack: Stack, number: int) -> None:
    token = base64.urlsafe_b64encode(str(number).encode()).decode()
    code, _, _, violations, _ = await failure(
        stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, page_token=token))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "page_token"


async def test_an_unknown_instrument_type_number_in_a_search_is_invalid_argument(stack: Stack) -> None:
    request = market_data_pb2.SearchInstrumentsRequest(account_id=ACCOUNT, query="nifty")
    request.instrument_types.append(99)  # type: ignore[arg-type]
    code, _, _, violations, details = await failure(stack.market.SearchInstruments(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "instrument_types[0]"
    assert "INSTRUMENT_TYPE_FUT" in details


async def test_an_unknown_tick_mode_number_is_invalid_argument_in_a_stream_and_an_update(stack: Stack) -> None:
    stream = stack.market.StreamTicks(
        market_data_pb2.StreamTicksRequest(
            account_id=ACCOUNT,
            instruments=[common_pb2.InstrumentRef(symbol="NSE:INFY")],
            mode=7,  # type: ignore[arg-type]
        )
    )
    code, _, _, violations, _ = await failure(first_event(stream))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "mode"
    update = market_data_pb2.UpdateSubscriptionRequest(account_id=ACCOUNT, subscription_id="ZS0001-1", mode=-1)  # type: ignore[arg-type]
    code, _, _, violations, _ = await failure(stack.market.UpdateSubscription(update))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "mode"


async def test_a_heartbeat_interval_of_2_to_the_62_seconds_is_invalid_argument(stack: Stack) -> None:
    huge = Duration(seconds=2**62)
    streams = [
        stack.orders.StreamOrderUpdates(
            order_pb2.StreamOrderUpdatesRequest(account_id=ACCOUNT, heartbeat_interval=huge)
        ),
        stack.market.StreamTicks(market_data_pb2.StreamTicksRequest(account_id=ACCOUNT, heartbeat_interval=huge)),
    ]
    for stream in streams:
        code, _, _, violations, _ = await failure(first_event(stream))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "heartbeat_interval"
    # Within Duration's range but far beyond the heartbeat's: the handler's own range check.
    long = Duration(seconds=10**11)
    stream = stack.market.StreamTicks(market_data_pb2.StreamTicksRequest(account_id=ACCOUNT, heartbeat_interval=long))
    code, _, _, _, details = await failure(first_event(stream))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "1 s to 60 s" in details


@pytest.mark.parametrize("field", ["api_key", "access_token"])
async def test_a_non_latin1_api_key_or_access_token_is_invalid_argument(stack: Stack, field: str) -> None:
    values = {"api_key": stack.sim.app.api_key, "access_token": "token", field: "\u20ac\u0915\u093f"}
    tripwire = kite_requests(stack)
    code, _, _, violations, _ = await failure(stack.accounts.AddAccount(account_pb2.AddAccountRequest(**values)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == field
    assert sent(tripwire) == 0


async def test_a_credential_with_a_header_break_is_invalid_argument(stack: Stack) -> None:
    request = account_pb2.CompleteLoginRequest(api_key="key\r\nX-Injected: 1", request_token="t", api_secret="s")
    code, _, _, violations, _ = await failure(stack.accounts.CompleteLogin(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "api_key"


async def test_a_quantity_of_int64_max_in_margins_is_invalid_argument(stack: Stack) -> None:
    request = order_pb2.GetOrderMarginsRequest(account_id=ACCOUNT, orders=[market_buy(quantity=2**63 - 1)])
    tripwire = kite_requests(stack)
    code, _, _, violations, details = await failure(stack.orders.GetOrderMargins(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "orders[0].quantity"
    assert "1,000,000,000" in details and sent(tripwire) == 0


async def test_the_largest_quantity_and_price_allowed_preview_without_overflowing_an_int64(stack: Stack) -> None:
    from kite_gateway.grpc.request_limits import MAX_DECIMAL, MAX_QUANTITY

    order = market_buy(quantity=MAX_QUANTITY, order_type=common_pb2.ORDER_TYPE_LIMIT, price=decimal_pb(MAX_DECIMAL - 1))
    reply = await stack.orders.GetOrderMargins(order_pb2.GetOrderMarginsRequest(account_id=ACCOUNT, orders=[order]))
    assert Decimal(reply.orders[0].margin.total.value) > 0


async def test_an_invalid_timestamp_in_an_output_only_field_is_ignored_and_kept_out_of_the_audit_trail(
    stack: Stack,
) -> None:
    infy = stack.sim.universe.by_symbol["NSE:INFY"]
    price = stack.sim.quote(infy.symbol).last_price
    leg = order_pb2.GttLeg(transaction_type=common_pb2.TRANSACTION_TYPE_SELL, quantity=1,
                           product=common_pb2.PRODUCT_CNC, price=decimal_pb(price + 50))  # fmt: skip
    leg.result.trigger_time.CopyFrom(FAR_FUTURE)  # GttLeg.result: "Ignored in requests"
    leg.result.rejection_reason = "x" * 100
    params = order_pb2.GttParams(
        type=order_pb2.GTT_TYPE_SINGLE,
        instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        last_price=decimal_pb(price),
        trigger_values=[decimal_pb(price + 50)],
        legs=[leg],
    )
    placed = await stack.orders.PlaceGtt(
        order_pb2.PlaceGttRequest(account_id=ACCOUNT, client_order_id="g-1", params=params)
    )
    assert placed.gtt_id > 0
    audit = await stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT))
    (event,) = [e for e in audit.events if e.client_order_id == "g-1"]
    assert event.status_code == 0 and "result" not in event.request_json and "triggerTime" not in event.request_json


@pytest.mark.parametrize(
    "payload",
    [
        b"\x0a\x02\xff\xfe",
        b"\x0a\x05ab",
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        b"\x0b",
        b"\x12\x03\x0a\x01\xc3",
    ],
)
async def test_bytes_that_do_not_decode_are_invalid_argument_not_unknown(stack: Stack, payload: bytes) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}")
    try:
        for path in ("/kite_gateway.v1.OrderService/PlaceOrder", "/kite_gateway.v1.MarketDataService/StreamTicks"):
            if "Stream" in path:
                call: Any = first_event(channel.unary_stream(path)(payload))
            else:
                call = channel.unary_unary(path)(payload)
            code, reason, _, violations, details = await failure(call)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (path, details)
            assert reason == "INVALID_FIELD" and violations[0][0] == "request" and "not a valid" in details
    finally:
        await channel.close()


async def test_a_request_larger_than_any_valid_one_is_resource_exhausted(stack: Stack) -> None:
    request = order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, reason="x" * (2 * 1024 * 1024))
    code, _, _, _, _ = await failure(stack.orders.SetKillSwitch(request))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


# Kite's unclassified errors ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GetGtt", "DeleteGtt", "ModifyGtt"])
async def test_kites_trigger_not_found_is_not_found(stack: Stack, method: str) -> None:
    params = order_pb2.GttParams(
        type=order_pb2.GTT_TYPE_SINGLE, instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        last_price=decimal_pb(1500), trigger_values=[decimal_pb(1400)],
        legs=[order_pb2.GttLeg(transaction_type=common_pb2.TRANSACTION_TYPE_BUY, quantity=1,
                               product=common_pb2.PRODUCT_CNC, price=decimal_pb(1400))],
    )  # fmt: skip
    requests: dict[str, Any] = {
        "GetGtt": order_pb2.GetGttRequest(account_id=ACCOUNT, gtt_id=987654),
        "DeleteGtt": order_pb2.DeleteGttRequest(account_id=ACCOUNT, gtt_id=987654),
        "ModifyGtt": order_pb2.ModifyGttRequest(account_id=ACCOUNT, gtt_id=987654, params=params),
    }
    code, reason, metadata, _, details = await failure(getattr(stack.orders, method)(requests[method]))
    assert code == grpc.StatusCode.NOT_FOUND and reason == "ORDER_NOT_FOUND"
    assert "987654" in details and metadata["gtt_id"] == "987654"


@pytest.mark.parametrize("gtt_id", [0, -5])
async def test_a_gtt_id_that_is_not_positive_is_invalid_argument(stack: Stack, gtt_id: int) -> None:
    code, _, _, violations, _ = await failure(
        stack.orders.GetGtt(order_pb2.GetGttRequest(account_id=ACCOUNT, gtt_id=gtt_id))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "gtt_id"


# Sizes ------------------------------------------------------------------------------------------------


@pytest.mark.sqlite_only  # it weighs the database file
async def test_a_megabyte_auction_number_is_invalid_argument_before_kite_and_storage(stack: Stack) -> None:
    params = market_buy(variety=common_pb2.VARIETY_AUCTION, auction_number=MEGABYTE)
    tripwire = kite_requests(stack)
    before = (stack.settings.gateway_data_dir / "gateway.db").stat().st_size
    request = order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="auction-1", params=params)
    code, _, _, violations, details = await failure(stack.orders.PlaceOrder(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "params.auction_number"
    assert len(details) < 200 and sent(tripwire) == 0
    assert await stack.runtime.idempotency.get(ACCOUNT, "auction-1") is None  # never "retrying is safe"
    assert (stack.settings.gateway_data_dir / "gateway.db").stat().st_size - before < 64 * 1024


async def test_a_megabyte_account_id_gets_a_short_error_the_client_can_read(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id="A" * 1_000_000))
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # not the client's RESOURCE_EXHAUSTED on headers
    trailers = sum(len(k) + len(v) for k, v in error.trailing_metadata() or ())
    assert len(error.details() or "") < 200 and trailers < 2048


async def test_an_error_quotes_at_most_a_short_prefix_of_what_was_sent(stack: Stack) -> None:
    code, _, _, violations, details = await failure(
        stack.orders.GetOrderHistory(
            order_pb2.GetOrderHistoryRequest(account_id=ACCOUNT, order=order_pb2.OrderTarget(order_id="7" * 31 + "x"))
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "7" * 25 not in details and "(32 characters)" in details and violations[0][1] in details


# The audit trail --------------------------------------------------------------------------------------


async def test_the_audit_trail_stores_bounded_request_bodies(stack: Stack) -> None:
    from datetime import UTC, datetime

    from kite_gateway.storage.audit import MAX_OUTCOME, MAX_REQUEST_JSON

    audit = stack.runtime.audit
    await audit.append(datetime.now(UTC), "p" * 5000, ACCOUNT, 1, "c" * 5000, "o" * 5000, "{" + "x" * 10**6 + "}",
                       3, "y" * 10**6, 1.0)  # fmt: skip
    (entry,) = await audit.query(ACCOUNT, None, None, "", "", 0, 10)
    assert len(entry.request_json) <= MAX_REQUEST_JSON and '"truncated": true' in entry.request_json
    assert '"characters": 1000002' in entry.request_json
    assert len(entry.outcome) <= MAX_OUTCOME and max(map(len, (entry.principal, entry.client_order_id))) <= 256


async def test_a_kill_switch_reason_longer_than_its_limit_is_refused_and_the_longest_allowed_is_audited_small(
    stack: Stack,
) -> None:
    too_long = order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="r" * 501)
    code, _, _, violations, _ = await failure(stack.orders.SetKillSwitch(too_long))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "reason"
    longest = order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="r" * 500)
    await stack.orders.SetKillSwitch(longest)
    events = await stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT))
    assert len(events.events) == 1 and len(events.events[0].request_json) < 1024


# Another account's order -------------------------------------------------------------------------------


async def test_list_trades_for_another_accounts_order_answers_exactly_as_for_an_unknown_id(stack: Stack) -> None:
    theirs = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id="ZS0002", client_order_id="theirs", params=market_buy())
    )
    never = "1" + theirs.order_id[1:-1] + str((int(theirs.order_id[-1]) + 5) % 10)  # same form, never issued
    answers = []
    for order_id in (theirs.order_id, never):
        code, reason, metadata, _, details = await failure(
            stack.orders.ListTrades(
                order_pb2.ListTradesRequest(account_id=ACCOUNT, order=order_pb2.OrderTarget(order_id=order_id))
            )
        )
        answers.append((code, reason, sorted(metadata.items()), details.replace(order_id, "<id>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == grpc.StatusCode.NOT_FOUND and "this account" not in answers[0][3]


async def test_made_up_api_keys_leave_no_rate_limiter_behind(stack: Stack) -> None:
    limits = stack.runtime.limits
    before = len(limits._limiters)
    for i in range(50):
        request = account_pb2.AddAccountRequest(api_key=f"madeup{i}", access_token="token", api_secret="s")
        with pytest.raises(grpc.aio.AioRpcError):
            await stack.accounts.AddAccount(request)
    assert len(limits._limiters) <= before + 1  # one shared bucket for apps without accounts
