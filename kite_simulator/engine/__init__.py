"""The trading engine: Kite's order state machine (trading), over form parsing (form), order checks
(validation), the RMS (rms), matching rules (matching), order slicing (slicing), accounts and their
JSON views."""

from kite_simulator.engine.accounts import Account
from kite_simulator.engine.slicing import place_sliced, wants_autoslice
from kite_simulator.engine.trading import OrderListener, TradingEngine

__all__ = ["Account", "OrderListener", "TradingEngine", "place_sliced", "wants_autoslice"]
