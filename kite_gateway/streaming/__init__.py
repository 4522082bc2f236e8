"""Streaming: one upstream Kite ticker per account, fanned out to any number of subscribers."""
