"""Kite accounts served by the gateway: their sessions and how they log in."""
