"""Kite's SHA-256 checksums."""

from __future__ import annotations

import hashlib
import hmac


def session_checksum(api_key: str, token: str, api_secret: str) -> str:
    """Checksum of `POST /session/token` (token = request_token) and of a refresh-token renewal."""
    return hashlib.sha256(f"{api_key}{token}{api_secret}".encode()).hexdigest()


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    """Checksum Kite puts in an order postback: sha256(order_id + order_timestamp + api_secret)."""
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


def checksums_match(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex checksums."""
    return hmac.compare_digest(expected.encode(), given.encode())
