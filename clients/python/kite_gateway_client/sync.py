"""The blocking client: the asyncio client run on a private event loop in a background thread, so
scripts and synchronous services get the same methods, retries and resumable streams.

Each method of GatewayClient is its AsyncGatewayClient twin (same arguments, same result, the same
GatewayCallError), made blocking by `blocking` and `streaming` below; a test checks that none is
missing."""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, Concatenate, ParamSpec, TypeVar

from kite_gateway_client.aio import AsyncGatewayClient
from kite_gateway_client.loop_thread import LoopThread

P = ParamSpec("P")
T = TypeVar("T")


def blocking(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[GatewayClient, P], T]:
    """The blocking twin of an AsyncGatewayClient method."""

    def call(self: GatewayClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._loop.run(method(self._client, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


def streaming(
    method: Callable[Concatenate[Any, P], AsyncIterator[T]],
) -> Callable[Concatenate[GatewayClient, P], Generator[T, None, None]]:
    """The blocking twin of an AsyncGatewayClient stream: an iterator (close it, or leave the loop
    that reads it, to end the stream; closing the client ends it too)."""

    def call(self: GatewayClient, /, *args: P.args, **kwargs: P.kwargs) -> Generator[T, None, None]:
        iterator = self._iterate(method(self._client, *args, **kwargs))
        self._streams.add(iterator)
        return iterator

    functools.update_wrapper(call, method)
    return call


def _shut_down(
    loop: LoopThread, client: AsyncGatewayClient, streams: weakref.WeakSet[Generator[Any, None, None]]
) -> None:
    """Ends the open streams (so their calls are cancelled on the loop, not left pending), closes
    the channel, and shuts the loop down with nothing left on it."""
    if loop.closed:
        return
    for stream in list(streams):
        with contextlib.suppress(ValueError):  # being read by another thread right now
            stream.close()
    loop.close(client.close)


class GatewayClient:
    """Blocking twin of AsyncGatewayClient (same arguments and methods). Use as
    `with GatewayClient(...) as client:`; a client never closed is closed at interpreter exit."""

    def __init__(self, target: str = "127.0.0.1:50051", token: str | None = None, **options: Any) -> None:
        self._loop = LoopThread("kite-gateway-client")
        self._streams: weakref.WeakSet[Generator[Any, None, None]] = weakref.WeakSet()

        async def connect() -> AsyncGatewayClient:
            return AsyncGatewayClient(target, token, **options)

        try:
            self._client = self._loop.run(connect())
        except BaseException:
            self._loop.close()
            raise
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, self._client, self._streams)

    def _iterate(self, stream: AsyncIterator[T]) -> Generator[T, None, None]:
        try:
            while True:
                try:
                    yield self._loop.run(anext(stream))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.closed:
                self._loop.run(stream.aclose())  # type: ignore[attr-defined]

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ends every open stream, closes the channel and stops the client's thread."""
        self._finalizer()

    @property
    def last_sequence(self) -> dict[str, int]:
        return self._client.last_sequence

    # AccountService
    get_login_url = blocking(AsyncGatewayClient.get_login_url)
    complete_login = blocking(AsyncGatewayClient.complete_login)
    add_account = blocking(AsyncGatewayClient.add_account)
    list_accounts = blocking(AsyncGatewayClient.list_accounts)
    get_account = blocking(AsyncGatewayClient.get_account)
    remove_account = blocking(AsyncGatewayClient.remove_account)
    get_profile = blocking(AsyncGatewayClient.get_profile)
    get_margins = blocking(AsyncGatewayClient.get_margins)

    # OrderService
    place_order = blocking(AsyncGatewayClient.place_order)
    modify_order = blocking(AsyncGatewayClient.modify_order)
    cancel_order = blocking(AsyncGatewayClient.cancel_order)
    list_orders = blocking(AsyncGatewayClient.list_orders)
    get_order_history = blocking(AsyncGatewayClient.get_order_history)
    list_trades = blocking(AsyncGatewayClient.list_trades)
    get_order_margins = blocking(AsyncGatewayClient.get_order_margins)
    get_order_charges = blocking(AsyncGatewayClient.get_order_charges)
    place_gtt = blocking(AsyncGatewayClient.place_gtt)
    modify_gtt = blocking(AsyncGatewayClient.modify_gtt)
    delete_gtt = blocking(AsyncGatewayClient.delete_gtt)
    list_gtts = blocking(AsyncGatewayClient.list_gtts)
    get_gtt = blocking(AsyncGatewayClient.get_gtt)
    create_kite_alert = blocking(AsyncGatewayClient.create_kite_alert)
    modify_kite_alert = blocking(AsyncGatewayClient.modify_kite_alert)
    delete_kite_alerts = blocking(AsyncGatewayClient.delete_kite_alerts)
    list_kite_alerts = blocking(AsyncGatewayClient.list_kite_alerts)
    get_kite_alert = blocking(AsyncGatewayClient.get_kite_alert)
    get_kite_alert_history = blocking(AsyncGatewayClient.get_kite_alert_history)
    place_bulk_orders = blocking(AsyncGatewayClient.place_bulk_orders)
    place_basket = blocking(AsyncGatewayClient.place_basket)
    square_off = blocking(AsyncGatewayClient.square_off)
    cancel_all_orders = blocking(AsyncGatewayClient.cancel_all_orders)
    stream_order_updates = streaming(AsyncGatewayClient.stream_order_updates)
    order_updates = streaming(AsyncGatewayClient.order_updates)
    list_audit_events = blocking(AsyncGatewayClient.list_audit_events)
    set_kill_switch = blocking(AsyncGatewayClient.set_kill_switch)
    get_kill_switch = blocking(AsyncGatewayClient.get_kill_switch)

    # PortfolioService
    get_positions = blocking(AsyncGatewayClient.get_positions)
    get_holdings = blocking(AsyncGatewayClient.get_holdings)
    convert_position = blocking(AsyncGatewayClient.convert_position)
    get_consolidated_portfolio = blocking(AsyncGatewayClient.get_consolidated_portfolio)
    get_exit_status = blocking(AsyncGatewayClient.get_exit_status)

    # MarketDataService
    get_quote = blocking(AsyncGatewayClient.get_quote)
    get_ltp = blocking(AsyncGatewayClient.get_ltp)
    get_ohlc = blocking(AsyncGatewayClient.get_ohlc)
    get_historical_data = blocking(AsyncGatewayClient.get_historical_data)
    search_instruments = blocking(AsyncGatewayClient.search_instruments)
    get_instruments = blocking(AsyncGatewayClient.get_instruments)
    get_market_status = blocking(AsyncGatewayClient.get_market_status)
    get_trading_calendar = blocking(AsyncGatewayClient.get_trading_calendar)
    stream_ticks = streaming(AsyncGatewayClient.stream_ticks)
    ticks = streaming(AsyncGatewayClient.ticks)
    update_subscription = blocking(AsyncGatewayClient.update_subscription)
    list_subscriptions = blocking(AsyncGatewayClient.list_subscriptions)

    # SignalService
    submit_signal = blocking(AsyncGatewayClient.submit_signal)
    get_signal = blocking(AsyncGatewayClient.get_signal)
    list_signals = blocking(AsyncGatewayClient.list_signals)
    approve_signal = blocking(AsyncGatewayClient.approve_signal)
    reject_signal = blocking(AsyncGatewayClient.reject_signal)
    list_strategies = blocking(AsyncGatewayClient.list_strategies)
    stream_signals = streaming(AsyncGatewayClient.stream_signals)

    # AlertService
    list_alerts = blocking(AsyncGatewayClient.list_alerts)
    stream_alerts = streaming(AsyncGatewayClient.stream_alerts)
    list_alert_rules = blocking(AsyncGatewayClient.list_alert_rules)
    put_alert_rule = blocking(AsyncGatewayClient.put_alert_rule)
    delete_alert_rule = blocking(AsyncGatewayClient.delete_alert_rule)
    list_alert_dead_letters = blocking(AsyncGatewayClient.list_alert_dead_letters)

    # ReportService
    get_tradebook = blocking(AsyncGatewayClient.get_tradebook)
    get_pnl_statement = blocking(AsyncGatewayClient.get_pnl_statement)
    get_tax_pnl = blocking(AsyncGatewayClient.get_tax_pnl)
    get_daily_report = blocking(AsyncGatewayClient.get_daily_report)
