"""Kite Connect's wire protocol as pure code (no I/O): formats, checksums, ticker packets.

Shared by the gateway (which speaks to Kite) and the simulator (which is Kite).
"""
