"""Caller authentication (bearer tokens -> principals) and per-account authorization."""
