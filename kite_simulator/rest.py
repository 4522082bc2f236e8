"""Kite Connect's REST API over HTTP (aiohttp): routes, envelope, auth, rate limits, faults.

Requests are read as Kite's clients send them (query strings for GET/DELETE, form bodies for
POST/PUT, JSON for the margin and charges endpoints); answers use Kite's envelope and HTTP
statuses. `/_sim/...` is the simulator's own control API (faults, clock, ticker drops); it is
not part of Kite's.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from kite_simulator import margins
from kite_simulator.errors import KiteError, general_error, input_error, not_found, too_many_requests
from kite_simulator.faults import Fault
from kite_simulator.market import Bar, LiveQuote
from kite_simulator.sessions import App, Session
from kite_simulator.universe import SimInstrument
from kite_wire.formats import json_number, kite_candle_timestamp, kite_timestamp, parse_kite_timestamp

if TYPE_CHECKING:
    from kite_simulator.app import Simulator

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Kite's maximum range of one historical call, in days, per interval; and the interval's minutes.
HISTORICAL_LIMITS = {"minute": 60, "3minute": 100, "5minute": 100, "10minute": 100, "15minute": 200,
                     "30minute": 200, "60minute": 400, "day": 2000}  # fmt: skip
INTERVAL_MINUTES = {"minute": 1, "3minute": 3, "5minute": 5, "10minute": 10, "15minute": 15, "30minute": 30,
                    "60minute": 60}  # fmt: skip
QUOTE_LIMITS = {"/quote": 500, "/quote/ohlc": 1000, "/quote/ltp": 1000}
SIMULATOR = web.AppKey("simulator", object)
SESSION = web.RequestKey("session", Session)


def ok(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def _sim(request: web.Request) -> Simulator:
    return request.app[SIMULATOR]  # type: ignore[return-value]


def _session(request: web.Request) -> Session:
    return request[SESSION]


async def _form(request: web.Request) -> dict[str, str]:
    if request.method in ("GET", "DELETE"):
        return dict(request.query)
    data = await request.post()
    return {k: str(v) for k, v in data.items()}


async def _json_list(request: web.Request) -> list[dict[str, Any]]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise input_error("Invalid JSON body: expected an array of orders.") from None
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise input_error("Invalid JSON body: expected an array of orders.")
    return body


# Middleware -----------------------------------------------------------------------------------


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Kite's error envelope for every failure; never a stack trace, never a dead server."""
    try:
        return await handler(request)
    except KiteError as exc:
        return web.json_response(exc.body(), status=exc.http_status)
    except web.HTTPNotFound:
        return web.json_response(not_found().body(), status=404)
    except web.HTTPMethodNotAllowed:
        return web.json_response(general_error("Method not allowed", 405).body(), status=405)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("simulator request %s %s failed", request.method, request.path)
        return web.json_response(general_error("Internal server error").body(), status=500)


@web.middleware
async def kite_request_rules(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`X-Kite-Version: 3` and `Authorization: token api_key:access_token`, rate limits and faults."""
    sim = _sim(request)
    path = request.path
    unrouted = request.match_info.http_exception is not None
    if unrouted or path == "/" or path.startswith("/_sim") or path.startswith("/connect/"):
        return await handler(request)
    if request.headers.get("X-Kite-Version") != "3":
        raise input_error("Missing or invalid `X-Kite-Version` header: send 3.")
    fault = sim.faults.take(request.method, path)
    if fault is not None and fault.action == "hold":
        # Delivered late: from here on the request is processed whether or not its caller waits.
        return await asyncio.shield(_deliver_late(fault, request, handler))
    return await _kite_rules(request, handler, fault)


async def _kite_rules(request: web.Request, handler: Handler, fault: Fault | None) -> web.StreamResponse:
    sim = _sim(request)
    path = request.path
    if fault is not None and fault.action == "delay":
        await asyncio.sleep(fault.seconds)
    elif fault is not None and fault.action == "error":
        raise KiteError(fault.error_type, fault.message, fault.http_status)
    elif fault is not None and fault.action == "html":
        return web.Response(status=fault.http_status, text="<html><body>Bad gateway</body></html>",
                            content_type="text/html")  # fmt: skip
    api_key = ""
    if request.match_info.route.handler not in PUBLIC_HANDLERS:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        api_key, _, access_token = credentials.partition(":")
        if scheme != "token" or not api_key or not access_token:
            raise KiteError("TokenException", "Missing or invalid `Authorization` header.", 403)
        request[SESSION] = sim.sessions.authenticate(api_key, access_token)
    if sim.rate_limiter and api_key and not sim.rate_limiter.allow(api_key, request.method, path):
        raise too_many_requests()
    response = await handler(request)
    if fault is not None and fault.action == "timeout_after_accept":
        await asyncio.sleep(fault.seconds)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError
    return response


async def _deliver_late(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    await request.read()  # what is held is the whole request, readable after its sender has gone
    await fault.hold()
    try:
        return await _kite_rules(request, handler, None)
    finally:
        fault.delivered += 1


@web.middleware
async def durable_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With a state file, a request that may change state is answered after it is saved (a
    refusal too: a rejected placement still counts against the order caps)."""
    sim = _sim(request)
    if request.method == "GET" or request.path.startswith("/_sim") or sim.state is None:
        return await handler(request)
    try:
        response = await handler(request)
    except KiteError:
        await sim.persist()
        raise
    await sim.persist()
    return response


# Login and session ----------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    """Kite's login page. `user_id` (and `password`) in the query log in at once (for scripts)."""
    sim = _sim(request)
    query = request.query
    api_key = query.get("api_key", "")
    if api_key not in sim.sessions.apps:
        return web.Response(status=400, text="Invalid api_key", content_type="text/plain")
    params = await request.post() if request.method == "POST" else query
    user_id = str(params.get("user_id", ""))
    if user_id:
        try:
            token = sim.sessions.login(api_key, user_id, str(params.get("password", "")) or None)
        except KiteError as exc:
            return web.Response(status=400, text=exc.message, content_type="text/plain")
        app = sim.sessions.apps[api_key]
        extra = parse_qsl(query.get("redirect_params", ""))
        target = urlencode(
            [("action", "login"), ("type", "login"), ("status", "success"), ("request_token", token), *extra]
        )
        raise web.HTTPFound(f"{app.redirect_url}{'&' if '?' in app.redirect_url else '?'}{target}")
    users = "".join(
        f'<option value="{html.escape(u.user_id)}">{html.escape(u.user_id)} ({html.escape(u.user_name)})</option>'
        for u in sim.sessions.users.values()
    )
    page = (
        "<!doctype html><title>Kite simulator login</title><h1>Kite simulator</h1>"
        f'<form method="post"><select name="user_id">{users}</select>'
        '<input name="password" type="password" placeholder="password"><button>Login</button></form>'
    )
    return web.Response(text=page, content_type="text/html")


def _session_json(sim: Simulator, session: Session) -> dict[str, Any]:
    return {
        **_profile_json(sim, session),
        "api_key": session.api_key,
        "access_token": session.access_token,
        "public_token": session.public_token,
        "enctoken": "",
        "refresh_token": "",
        "silo": "",
        "login_time": kite_timestamp(session.login_time),
    }


async def session_token(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    form = await _form(request)
    if request.method == "DELETE":
        sim.sessions.invalidate(form.get("api_key", ""), form.get("access_token", ""))
        return ok(True)
    session = sim.sessions.exchange(form.get("api_key", ""), form.get("request_token", ""), form.get("checksum", ""))
    return ok(_session_json(sim, session))


async def refresh_token(request: web.Request) -> web.StreamResponse:
    raise KiteError("PermissionException", "Refresh tokens are issued only to approved platforms.", 403)


def _profile_json(sim: Simulator, session: Session) -> dict[str, Any]:
    user = sim.sessions.users[session.user_id]
    return {
        "user_id": user.user_id,
        "user_type": "individual",
        "email": user.email,
        "user_name": user.user_name,
        "user_shortname": user.shortname,
        "broker": "ZERODHA",
        "exchanges": list(user.exchanges),
        "products": list(user.products),
        "order_types": list(user.order_types),
        "avatar_url": "",
        "meta": {"demat_consent": "physical"},
    }


async def profile(request: web.Request) -> web.StreamResponse:
    return ok(_profile_json(_sim(request), _session(request)))


async def user_margins(request: web.Request) -> web.StreamResponse:
    segment = request.match_info.get("segment")
    if segment not in (None, "equity", "commodity"):
        raise input_error("Invalid segment: equity or commodity.")
    return ok(_sim(request).engine.margins_json(_session(request).user_id, segment))


# Orders ---------------------------------------------------------------------------------------


def _app(request: web.Request) -> App:
    return _sim(request).sessions.app_of(_session(request).api_key)


async def orders(request: web.Request) -> web.StreamResponse:
    return ok(_sim(request).engine.orders_json(_session(request).user_id))


async def order_history(request: web.Request) -> web.StreamResponse:
    return ok(_sim(request).engine.order_history(_session(request).user_id, request.match_info["order_id"]))


async def place_order(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    form = await _form(request)
    order_id = sim.engine.place(_app(request), _session(request).user_id, request.match_info["variety"], form)
    return ok({"order_id": order_id})


async def modify_order(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    info = request.match_info
    order_id = sim.engine.modify(_session(request).user_id, info["variety"], info["order_id"], await _form(request))
    return ok({"order_id": order_id})


async def cancel_order(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    info = request.match_info
    return ok({"order_id": sim.engine.cancel(_session(request).user_id, info["variety"], info["order_id"])})


async def trades(request: web.Request) -> web.StreamResponse:
    return ok(_sim(request).engine.trades_json(_session(request).user_id))


async def order_trades(request: web.Request) -> web.StreamResponse:
    return ok(_sim(request).engine.trades_json(_session(request).user_id, request.match_info["order_id"]))


# Portfolio ------------------------------------------------------------------------------------


async def positions(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    if request.method == "PUT":
        sim.engine.convert_position(_session(request).user_id, await _form(request))
        return ok(True)
    return ok(sim.engine.positions_json(_session(request).user_id))


async def holdings(request: web.Request) -> web.StreamResponse:
    return ok(_sim(request).engine.holdings_json(_session(request).user_id))


# Market data ----------------------------------------------------------------------------------


def _lookup(sim: Simulator, key: str) -> SimInstrument | None:
    if key.isdigit():
        return sim.universe.by_token.get(int(key))
    return sim.universe.by_symbol.get(key)


def _depth_json(quote: LiveQuote) -> dict[str, list[dict[str, Any]]]:
    def side(entries: tuple[Any, ...]) -> list[dict[str, Any]]:
        rows = [{"price": json_number(e.price), "quantity": e.quantity, "orders": e.orders} for e in entries]
        return rows + [{"price": 0, "quantity": 0, "orders": 0}] * (5 - len(rows))

    return {"buy": side(quote.bids), "sell": side(quote.offers)}


def _ohlc_json(quote: LiveQuote) -> dict[str, Any]:
    return {"open": json_number(quote.open), "high": json_number(quote.high), "low": json_number(quote.low),
            "close": json_number(quote.close)}  # fmt: skip


async def quotes(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    keys = request.query.getall("i", [])
    if not keys:
        raise input_error("Missing `i`: name at least one instrument as EXCHANGE:TRADINGSYMBOL.")
    if len(keys) > QUOTE_LIMITS[request.path]:
        raise input_error(f"Too many instruments: at most {QUOTE_LIMITS[request.path]} per request.")
    out: dict[str, Any] = {}
    for key in keys:
        instrument = _lookup(sim, key)
        if instrument is None:
            continue
        quote = sim.engine.quote(instrument)
        body: dict[str, Any] = {"instrument_token": instrument.instrument_token}
        if request.path == "/quote":
            body.update(
                timestamp=kite_timestamp(quote.at),
                last_trade_time=kite_timestamp(quote.last_trade_time),
                last_price=json_number(quote.last_price),
                last_quantity=quote.last_quantity,
                buy_quantity=quote.buy_quantity,
                sell_quantity=quote.sell_quantity,
                volume=quote.volume,
                average_price=json_number(quote.average_price),
                oi=quote.oi,
                oi_day_high=quote.oi_day_high,
                oi_day_low=quote.oi_day_low,
                net_change=json_number(quote.last_price - quote.close),
                lower_circuit_limit=json_number(quote.lower_circuit),
                upper_circuit_limit=json_number(quote.upper_circuit),
                ohlc=_ohlc_json(quote),
                depth=_depth_json(quote),
            )
        else:
            body["last_price"] = json_number(quote.last_price)
            if request.path == "/quote/ohlc":
                body["ohlc"] = _ohlc_json(quote)
        out[key] = body
    return ok(out)


async def instruments_csv(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    exchange = request.match_info.get("exchange")
    if exchange is not None and not any(i.exchange == exchange for i in sim.universe):
        raise input_error(f"Invalid exchange: {exchange}.")
    return web.Response(body=sim.universe.csv(exchange).encode(), headers={"Content-Type": "text/csv"})


def _bar_row(bar: Bar, with_oi: bool) -> list[Any]:
    row: list[Any] = [kite_candle_timestamp(bar.start), json_number(bar.open), json_number(bar.high),
                      json_number(bar.low), json_number(bar.close), bar.volume]  # fmt: skip
    return [*row, bar.oi] if with_oi else row


async def historical(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    token, interval = request.match_info["token"], request.match_info["interval"]
    instrument = sim.universe.by_token.get(int(token)) if token.isdigit() else None
    if instrument is None:
        raise input_error("invalid token")
    if interval not in HISTORICAL_LIMITS:
        raise input_error("invalid interval")
    try:
        start = parse_kite_timestamp(request.query["from"])
        end = parse_kite_timestamp(request.query["to"])
    except (KeyError, ValueError):
        raise input_error("invalid from or to: use yyyy-mm-dd hh:mm:ss") from None
    if end < start:
        raise input_error("invalid range: `to` is before `from`")
    if end - start > timedelta(days=HISTORICAL_LIMITS[interval]):
        raise input_error(f"interval exceeds max limit: {HISTORICAL_LIMITS[interval]} days")
    now = sim.clock.now()
    with_oi = request.query.get("oi") == "1"
    if interval == "day":
        end_of_day = end.replace(hour=23, minute=59, second=59)
        bars = [b for b in sim.market.day_bars(instrument, start, end_of_day) if b.start <= now]
    else:
        minutes = INTERVAL_MINUTES[interval]
        bars = [b for b in sim.market.minute_bars(instrument, start, end) if b.start + timedelta(minutes=1) <= now]
        bars = [b for b in sim.market.resample(bars, minutes) if b.start + timedelta(minutes=minutes) <= now]
    return ok({"candles": [_bar_row(b, with_oi) for b in bars]})


async def trigger_range(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    out = {}
    for key in request.query.getall("i", []):
        instrument = _lookup(sim, key)
        if instrument is not None:
            price = sim.engine.quote(instrument).last_price
            band = price * Decimal("0.0025")
            out[key] = {"instrument_token": instrument.instrument_token, "lower": json_number(price - band),
                        "upper": json_number(price + band)}  # fmt: skip
    return ok(out)


# Margins and charges --------------------------------------------------------------------------


def _priced(sim: Simulator, item: Mapping[str, Any], price_field: str) -> tuple[SimInstrument, str, str, int, Decimal]:
    instrument = sim.engine.instrument({k: str(item.get(k, "")) for k in ("exchange", "tradingsymbol")})
    side = str(item.get("transaction_type", ""))
    if side not in ("BUY", "SELL"):
        raise input_error("Invalid `transaction_type`.")
    try:
        quantity = int(item.get("quantity", 0))
        price = Decimal(str(item.get(price_field) or 0))
    except (ValueError, ArithmeticError):
        raise input_error("Invalid `quantity` or price.") from None
    if quantity <= 0:
        raise input_error("Invalid `quantity`.")
    return instrument, side, str(item.get("product", "CNC")), quantity, price or sim.engine.quote(instrument).last_price


async def order_margins(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    compact = request.query.get("mode") == "compact"
    out = []
    for item in await _json_list(request):
        instrument, side, product, quantity, price = _priced(sim, item, "price")
        margin = margins.order_margin(instrument, side, product, quantity, price)
        fill = margins.charges(instrument, side, product, quantity, price)
        out.append(margins.margin_json(instrument, margin, fill, compact))
    return ok(out)


async def basket_margins(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    compact = request.query.get("mode") == "compact"
    items = await _json_list(request)
    entries, total = [], margins.Margin()
    for item in items:
        instrument, side, product, quantity, price = _priced(sim, item, "price")
        margin = margins.order_margin(instrument, side, product, quantity, price)
        entries.append(
            margins.margin_json(
                instrument, margin, margins.charges(instrument, side, product, quantity, price), compact
            )
        )
        total = margins.Margin(total.span + margin.span, total.exposure + margin.exposure,
                               total.option_premium + margin.option_premium, total.var + margin.var)  # fmt: skip
    # Hedged legs (opposite sides) earn a SPAN benefit, as Kite's basket netting does.
    sides = {str(i.get("transaction_type")) for i in items}
    benefit = Decimal("0.7") if len(sides) == 2 else Decimal(1)
    hedged = margins.Margin(total.span * benefit, total.exposure, total.option_premium, total.var)
    no_charges = margins.Charges(Decimal(0), "stt", Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    return ok(
        {
            "initial": margins.basket_total_json(total, compact),
            "final": margins.basket_total_json(hedged, compact),
            "orders": entries,
            "charges": no_charges.to_json(),
        }
    )


async def virtual_contract_note(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    out = []
    for item in await _json_list(request):
        instrument, side, product, quantity, price = _priced(sim, item, "average_price")
        out.append(
            {
                "transaction_type": side,
                "tradingsymbol": instrument.tradingsymbol,
                "exchange": instrument.exchange,
                "variety": str(item.get("variety", "regular")),
                "product": product,
                "order_type": str(item.get("order_type", "MARKET")),
                "quantity": quantity,
                "price": json_number(price),
                "charges": margins.charges(instrument, side, product, quantity, price).to_json(),
            }
        )
    return ok(out)


# GTT ------------------------------------------------------------------------------------------


def _gtt_id(request: web.Request) -> int:
    raw = request.match_info["trigger_id"]
    if not raw.isdigit():
        raise input_error("Invalid trigger id.")
    return int(raw)


async def gtt_triggers(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    user_id = _session(request).user_id
    if request.method == "POST":
        return ok({"trigger_id": sim.gtts.place(_app(request), user_id, await _form(request))})
    return ok(sim.gtts.list(user_id))


async def gtt_trigger(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    user_id, gtt_id = _session(request).user_id, _gtt_id(request)
    if request.method == "PUT":
        return ok({"trigger_id": sim.gtts.modify(user_id, gtt_id, await _form(request))})
    if request.method == "DELETE":
        return ok({"trigger_id": sim.gtts.delete(user_id, gtt_id)})
    return ok(sim.gtts.get(user_id, gtt_id).to_json())


# The simulator's control API ------------------------------------------------------------------


async def control_faults(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    if request.method == "DELETE":
        sim.faults.clear()
        return ok(True)
    try:
        fault = sim.faults.add(Fault(**await request.json()))
    except (TypeError, ValueError) as exc:
        raise input_error(f"Invalid fault: {exc}. Fields: method, path, action, times, seconds, http_status, "
                          "error_type, message.") from None  # fmt: skip
    return ok(
        {"rules": len(sim.faults.rules), "fault": {k: v for k, v in fault.__dict__.items() if not k.startswith("_")}}
    )


async def control_clock(request: web.Request) -> web.StreamResponse:
    sim = _sim(request)
    if request.method == "POST":
        body = await request.json()
        sim.advance(float(body.get("seconds", 0)))
    now = sim.clock.now()
    return ok({"now": now.isoformat(), "ist": kite_timestamp(now)})


async def control_ticker_drop(request: web.Request) -> web.StreamResponse:
    user_id = request.query.get("user_id")
    return ok({"dropped": _sim(request).ticker.drop(user_id)})


def build_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[envelope, kite_request_rules, durable_writes])
    app[SIMULATOR] = sim
    routes = [
        web.get("/", sim.ticker.handle),
        web.get("/connect/login", login_page),
        web.post("/connect/login", login_page),
        web.post("/session/token", session_token),
        web.delete("/session/token", session_token),
        web.post("/session/refresh_token", refresh_token),
        web.get("/user/profile", profile),
        web.get("/user/margins", user_margins),
        web.get("/user/margins/{segment}", user_margins),
        web.get("/orders", orders),
        web.get("/orders/{order_id:[0-9]+}", order_history),
        web.get("/orders/{order_id:[0-9]+}/trades", order_trades),
        web.post("/orders/{variety}", place_order),
        web.put("/orders/{variety}/{order_id}", modify_order),
        web.delete("/orders/{variety}/{order_id}", cancel_order),
        web.get("/trades", trades),
        web.get("/portfolio/positions", positions),
        web.put("/portfolio/positions", positions),
        web.get("/portfolio/holdings", holdings),
        web.get("/quote", quotes),
        web.get("/quote/ohlc", quotes),
        web.get("/quote/ltp", quotes),
        web.get("/instruments", instruments_csv),
        web.get("/instruments/historical/{token}/{interval}", historical),
        web.get("/instruments/trigger_range/{transaction_type}", trigger_range),
        web.get("/instruments/{exchange}", instruments_csv),
        web.post("/margins/orders", order_margins),
        web.post("/margins/basket", basket_margins),
        web.post("/charges/orders", virtual_contract_note),
        web.get("/gtt/triggers", gtt_triggers),
        web.post("/gtt/triggers", gtt_triggers),
        web.get("/gtt/triggers/{trigger_id}", gtt_trigger),
        web.put("/gtt/triggers/{trigger_id}", gtt_trigger),
        web.delete("/gtt/triggers/{trigger_id}", gtt_trigger),
    ]
    if sim.config.control_api:
        routes += [
            web.post("/_sim/faults", control_faults),
            web.delete("/_sim/faults", control_faults),
            web.get("/_sim/clock", control_clock),
            web.post("/_sim/clock", control_clock),
            web.post("/_sim/ticker/drop", control_ticker_drop),
        ]
    app.add_routes(routes)
    return app


# Endpoints Kite serves without a session: the session exchange and the instrument dumps.
PUBLIC_HANDLERS = frozenset({session_token, refresh_token, instruments_csv})
