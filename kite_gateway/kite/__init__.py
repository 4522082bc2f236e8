"""The Kite adapter: the official `kiteconnect` client per account, off the event loop, rate-limited."""
